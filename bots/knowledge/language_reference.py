"""A small parallel corpus, English and Spanish, on everyday topics that no knowledge base is
about: where each language sits in the local embedder's vector space is learnt from it
(`bots.knowledge.embeddings.LocalEmbedder`, which ships the result). Each pair says the same
thing, so the difference between the two languages' means is the language alone, not
the topic.

Changing these sentences changes every local vector: bump `LOCAL_VARIANT` with them, so
stored vectors are re-embedded (`manage.py reembed_documents`), and regenerate
`local_language_means.npz` (`bots.knowledge.embeddings.save_language_means()`).
"""

# (English, Spanish)
PASSAGES = [
    (
        "The museum opens at ten in the morning and closes at six in the evening.",
        "El museo abre a las diez de la mañana y cierra a las seis de la tarde.",
    ),
    (
        "Tomatoes grow best in warm weather with plenty of sunlight.",
        "Los tomates crecen mejor con tiempo cálido y mucha luz solar.",
    ),
    (
        "The train to the airport leaves every twenty minutes from platform four.",
        "El tren al aeropuerto sale cada veinte minutos desde el andén cuatro.",
    ),
    (
        "Our team won the final match after extra time.",
        "Nuestro equipo ganó el partido final después de la prórroga.",
    ),
    (
        "The library lends books for three weeks and charges no fee for renewals.",
        "La biblioteca presta libros durante tres semanas y no cobra por las renovaciones.",
    ),
    ("Heat the oven before you put the bread inside.", "Calienta el horno antes de meter el pan."),
    ("The river floods the valley almost every spring.", "El río inunda el valle casi todas las primaveras."),
    (
        "Children under twelve must be accompanied by an adult.",
        "Los menores de doce años deben ir acompañados de un adulto.",
    ),
    (
        "The new bridge reduced the journey across the city by half.",
        "El nuevo puente redujo a la mitad el trayecto por la ciudad.",
    ),
    ("Please keep your ticket until the end of the trip.", "Conserva tu billete hasta el final del viaje."),
    (
        "The company was founded in a small garage by two friends.",
        "La empresa se fundó en un pequeño garaje gracias a dos amigos.",
    ),
    (
        "Drink plenty of water when you exercise outdoors in summer.",
        "Bebe mucha agua cuando hagas ejercicio al aire libre en verano.",
    ),
    (
        "The meeting has been moved to Thursday afternoon.",
        "La reunión se ha trasladado al jueves por la tarde.",
    ),
    (
        "This phone model has a larger battery and a brighter screen.",
        "Este modelo de teléfono tiene una batería más grande y una pantalla más brillante.",
    ),
    (
        "Birds migrate south when the days become shorter.",
        "Las aves migran hacia el sur cuando los días se acortan.",
    ),
    (
        "The hotel offers breakfast from seven to half past ten.",
        "El hotel ofrece desayuno de siete a diez y media.",
    ),
    (
        "Students must hand in their projects before the end of the term.",
        "Los estudiantes deben entregar sus proyectos antes de que termine el trimestre.",
    ),
    (
        "The recipe needs two eggs, flour, milk and a pinch of salt.",
        "La receta necesita dos huevos, harina, leche y una pizca de sal.",
    ),
    (
        "Prices rose sharply last year because of higher energy costs.",
        "Los precios subieron mucho el año pasado por el aumento del coste de la energía.",
    ),
    (
        "The software update fixes several security problems.",
        "La actualización del programa corrige varios problemas de seguridad.",
    ),
    (
        "Parking is free on Sundays and public holidays.",
        "El aparcamiento es gratuito los domingos y festivos.",
    ),
    (
        "The doctor recommended rest and a light diet for a week.",
        "El médico recomendó reposo y una dieta ligera durante una semana.",
    ),
    (
        "Membership can be cancelled at any time without a penalty.",
        "La suscripción se puede cancelar en cualquier momento sin penalización.",
    ),
    ("The concert was postponed because of the storm.", "El concierto se aplazó por la tormenta."),
    (
        "The bakery on the corner sells fresh bread every morning.",
        "La panadería de la esquina vende pan recién hecho cada mañana.",
    ),
    (
        "It rained all weekend, so we stayed at home and watched films.",
        "Llovió todo el fin de semana, así que nos quedamos en casa viendo películas.",
    ),
    (
        "The bus stop was moved to the other side of the square.",
        "La parada del autobús se trasladó al otro lado de la plaza.",
    ),
    (
        "My grandmother grows roses and lemons in her garden.",
        "Mi abuela cultiva rosas y limones en su jardín.",
    ),
    ("The swimming pool is closed for cleaning on Mondays.", "La piscina cierra los lunes por limpieza."),
    ("He forgot his umbrella on the train again.", "Volvió a olvidar el paraguas en el tren."),
    (
        "The festival attracts thousands of visitors every August.",
        "El festival atrae a miles de visitantes cada mes de agosto.",
    ),
    ("Dogs must be kept on a lead inside the park.", "Los perros deben ir atados dentro del parque."),
    (
        "The old castle on the hill is now a small museum.",
        "El antiguo castillo de la colina es ahora un pequeño museo.",
    ),
    (
        "She learned to play the guitar when she was ten.",
        "Aprendió a tocar la guitarra cuando tenía diez años.",
    ),
    (
        "The road to the beach is closed because of the marathon.",
        "La carretera a la playa está cortada por el maratón.",
    ),
    (
        "Fresh fish arrives at the market before dawn.",
        "El pescado fresco llega al mercado antes del amanecer.",
    ),
    (
        "The painting was sold at auction for a record price.",
        "El cuadro se vendió en una subasta por un precio récord.",
    ),
    ("Our neighbours are building a new kitchen.", "Nuestros vecinos están construyendo una cocina nueva."),
    (
        "The mountain path is steep but the view is worth it.",
        "El sendero de montaña es empinado, pero las vistas merecen la pena.",
    ),
    (
        "Please turn off the lights when you leave the room.",
        "Por favor, apaga las luces al salir de la habitación.",
    ),
    (
        "The cinema shows older films on Wednesday evenings.",
        "El cine proyecta películas antiguas los miércoles por la noche.",
    ),
    (
        "Snow fell early this year in the north of the country.",
        "Este año la nieve cayó pronto en el norte del país.",
    ),
    (
        "The chess club meets in the school hall on Fridays.",
        "El club de ajedrez se reúne los viernes en el salón del colegio.",
    ),
    (
        "Cats sleep for most of the day and hunt at night.",
        "Los gatos duermen la mayor parte del día y cazan por la noche.",
    ),
]
QUESTIONS = [
    ("What time does the museum open?", "¿A qué hora abre el museo?"),
    ("How often does the airport train run?", "¿Cada cuánto pasa el tren al aeropuerto?"),
    ("Can children go in alone?", "¿Pueden entrar los niños solos?"),
    ("How long can I keep a library book?", "¿Cuánto tiempo puedo tener un libro de la biblioteca?"),
    ("When is the meeting now?", "¿Cuándo es ahora la reunión?"),
    ("Is parking free at weekends?", "¿Es gratis aparcar el fin de semana?"),
    ("What ingredients does the recipe need?", "¿Qué ingredientes lleva la receta?"),
    ("Why did prices go up?", "¿Por qué subieron los precios?"),
    ("Can I cancel my membership?", "¿Puedo cancelar mi suscripción?"),
    ("What does the update fix?", "¿Qué arregla la actualización?"),
    ("When is breakfast served at the hotel?", "¿Cuándo se sirve el desayuno en el hotel?"),
    ("Who founded the company?", "¿Quién fundó la empresa?"),
    ("Why was the concert postponed?", "¿Por qué se aplazó el concierto?"),
    ("What did the doctor recommend?", "¿Qué recomendó el médico?"),
    ("When do birds fly south?", "¿Cuándo vuelan las aves hacia el sur?"),
    ("What is the deadline for the projects?", "¿Cuál es el plazo para entregar los proyectos?"),
    ("Does the phone have a better battery?", "¿Tiene el teléfono una batería mejor?"),
    (
        "How much shorter is the trip with the new bridge?",
        "¿Cuánto más corto es el trayecto con el nuevo puente?",
    ),
    ("Do I need to keep my ticket?", "¿Tengo que guardar el billete?"),
    ("How should I bake the bread?", "¿Cómo debo hornear el pan?"),
    ("Where does the bus stop now?", "¿Dónde está ahora la parada del autobús?"),
    ("Is the swimming pool open on Monday?", "¿Abre la piscina el lunes?"),
    ("What does the bakery sell?", "¿Qué vende la panadería?"),
    ("Can dogs run free in the park?", "¿Pueden los perros ir sueltos en el parque?"),
    ("When is the festival held?", "¿Cuándo se celebra el festival?"),
    ("Why is the road to the beach closed?", "¿Por qué está cortada la carretera a la playa?"),
    ("How much did the painting sell for?", "¿Por cuánto se vendió el cuadro?"),
    ("Which films does the cinema show on Wednesdays?", "¿Qué películas pone el cine los miércoles?"),
    ("Where does the chess club meet?", "¿Dónde se reúne el club de ajedrez?"),
    ("Is the mountain path difficult?", "¿Es difícil el sendero de montaña?"),
    ("What grows in your grandmother's garden?", "¿Qué crece en el jardín de tu abuela?"),
    ("When does the fish arrive at the market?", "¿Cuándo llega el pescado al mercado?"),
]
