"""Demo data for a fresh install. Idempotent: a second run changes nothing."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services as account_services
from accounts.models import Plan, Role, User
from bots import services as bot_services
from bots.models import Bot, Category, Document, DocumentStatus

GUIDE_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "bytchat-guide.md"

DEMO_EMAIL = "demo@bytchat.local"
DEMO_PASSWORD = "bytchat-demo-2026"

PLANS = [
    # MagicAI's Free subscription: 5 conversations per agent, 100 messages per conversation.
    {
        "name": "Free",
        "max_bots": 3,
        "max_conversations_per_bot": 5,
        "max_active_conversations": 50,
        "max_messages_per_conversation": 100,
        "messages_per_minute": 10,
        "monthly_token_quota": 500_000,
    },
    {
        "name": "Pro",
        "max_bots": 50,
        "max_conversations_per_bot": 200,
        "max_active_conversations": 1000,
        "max_messages_per_conversation": 1000,
        "messages_per_minute": 60,
        "monthly_token_quota": 20_000_000,
    },
]


CATEGORIES = [
    {
        "name_es": "Productividad",
        "name_en": "Productivity",
        "description_es": "Organiza tu trabajo, resume reuniones y planifica proyectos.",
        "description_en": "Organise your work, summarise meetings and plan projects.",
        "icon": "🗂️",
        "display_order": 1,
    },
    {
        "name_es": "Redacción y contenido",
        "name_en": "Writing and content",
        "description_es": "Textos profesionales, correos, artículos y correcciones.",
        "description_en": "Professional texts, e-mails, articles and proofreading.",
        "icon": "✍️",
        "display_order": 2,
    },
    {
        "name_es": "Educación",
        "name_en": "Education",
        "description_es": "Tutores que explican paso a paso y proponen ejercicios.",
        "description_en": "Tutors that explain step by step and suggest exercises.",
        "icon": "🎓",
        "display_order": 3,
    },
    {
        "name_es": "Programación",
        "name_en": "Programming",
        "description_es": "Revisión de código, depuración y explicaciones técnicas.",
        "description_en": "Code review, debugging and technical explanations.",
        "icon": "💻",
        "display_order": 4,
    },
    {
        "name_es": "Soporte",
        "name_en": "Support",
        "description_es": "Ayuda sobre Bytchat y atención al cliente.",
        "description_en": "Help with Bytchat and customer service.",
        "icon": "🛟",
        "display_order": 5,
    },
]

# Public platform agents; `guide` marks the one that gets the demo knowledge document.
AGENTS = [
    {
        "category": "Support",
        "guide": True,
        "language": "en",
        "name_es": "Guía de Bytchat",
        "name_en": "Bytchat Guide",
        "description_es": "Responde preguntas sobre cómo usar Bytchat, citando la guía de usuario.",
        "description_en": "Answers questions about using Bytchat, citing the user guide.",
        "system_prompt": (
            "You are the Bytchat Guide, the help desk of the Bytchat platform. Answer questions about "
            "creating bots, the model toolbox, training with documents, chatting and plans, using only "
            "the Bytchat user guide in your sources. Cite the passages you use with their numbers. If "
            "the guide does not cover the question, say so and suggest contacting an administrator. "
            "Answer in the user's language, in short paragraphs or numbered steps."
        ),
    },
    {
        "category": "Writing and content",
        "language": "es",
        "name_es": "Asistente de redacción",
        "name_en": "Writing assistant",
        "description_es": "Ayuda con textos profesionales: correos, informes y publicaciones.",
        "description_en": "Helps with professional texts: e-mails, reports and posts.",
        "system_prompt": (
            "Eres un editor profesional. Ayudas a escribir y mejorar correos, informes y publicaciones. "
            "Antes de reescribir, pregunta por el público y el tono si no están claros. Propón una "
            "versión final lista para copiar y, debajo, una lista breve de los cambios y su motivo. "
            "Respeta el idioma del texto original y no inventes datos."
        ),
    },
    {
        "category": "Education",
        "language": "es",
        "name_es": "Tutor de matemáticas",
        "name_en": "Maths tutor",
        "description_es": "Explica conceptos de matemáticas paso a paso, del colegio a la universidad.",
        "description_en": "Explains maths step by step, from school to university.",
        "system_prompt": (
            "Eres un tutor de matemáticas paciente. Explica cada concepto paso a paso con un ejemplo "
            "sencillo antes del caso general. Cuando el estudiante plantee un ejercicio, guíalo con "
            "preguntas en lugar de dar la solución de inmediato, y comprueba el resultado al final. "
            "Usa notación clara y señala los errores comunes."
        ),
    },
    {
        "category": "Programming",
        "language": "en",
        "name_es": "Revisor de código",
        "name_en": "Code reviewer",
        "description_es": "Revisa código, encuentra errores y sugiere mejoras concretas.",
        "description_en": "Reviews code, finds bugs and suggests concrete improvements.",
        "system_prompt": (
            "You are a senior software engineer doing code review. For the code you are given, list "
            "bugs first, then security problems, then readability and performance, each with the line "
            "it concerns and a concrete fix. Keep praise short. If the language or framework is "
            "unclear, ask. Never invent APIs: say when you are unsure."
        ),
    },
]


class Command(BaseCommand):
    help = (
        "Create demo plans, an admin, a demo user, bilingual categories and public agents, one of "
        "them with an indexed user guide. Safe to re-run."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            for plan in PLANS:
                if not Plan.objects.filter(name=plan["name"]).exists():
                    account_services.plan_save(plan=Plan(**plan))
            admin_line = self._admin()
            demo_line = self._demo_user()
            categories = self._categories()
            guide_agent = self._agents(categories)
            guide_line = self._guide(guide_agent)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(admin_line)
        self.stdout.write(demo_line)
        self.stdout.write(guide_line)

    def _categories(self) -> dict[str, Category]:
        categories = {}
        for fields in CATEGORIES:
            category, _ = Category.objects.get_or_create(name_en=fields["name_en"], defaults=fields)
            categories[fields["name_en"]] = category
        return categories

    def _agents(self, categories: dict[str, Category]) -> Bot:
        admin = User.objects.filter(role=Role.ADMIN).order_by("created_at").first()
        if admin is None:
            raise CommandError(
                "No admin account: DEMO_ADMIN_EMAIL names an existing user who is not an admin."
            )
        guide = None
        for spec in AGENTS:
            fields = {key: value for key, value in spec.items() if key not in ("category", "guide")}
            agent = Bot.objects.filter(owner__isnull=True, name_en=spec["name_en"]).first()
            if agent is None:
                agent = bot_services.bot_create(
                    user=admin, platform=True, is_public=True, category=categories[spec["category"]], **fields
                )
            if spec.get("guide"):
                guide = agent
        return guide

    def _guide(self, agent: Bot) -> str:
        """The user guide, indexed now (not queued) so the demo agent can answer at once."""
        data = GUIDE_PATH.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        document = Document.objects.filter(bot=agent, sha256=sha256).first()
        if document is None:
            with GUIDE_PATH.open("rb") as handle:
                document = bot_services.document_upload(
                    user=None, bot=agent, file=File(handle, name=GUIDE_PATH.name), enqueue=False
                )
        elif document.status == DocumentStatus.READY:
            return f"  Knowledge:   {GUIDE_PATH.name} for {agent.name} (already indexed)"
        else:
            Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PENDING)
        outcome = bot_services.document_index(document_id=document.pk)
        chunks = outcome.chunks if outcome else 0
        return f"  Knowledge:   {GUIDE_PATH.name} for {agent.name} ({chunks} chunks indexed)"

    def _admin(self) -> str:
        email = os.environ.get("DEMO_ADMIN_EMAIL", "admin@bytchat.local").strip().lower()
        if User.objects.filter(email=email).exists():
            return f"  Admin login: {email} (already existed; password unchanged)"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        account_services.user_create(
            email=email, password=password, full_name="Bytchat Admin", role=Role.ADMIN, language="en"
        )
        return f"  Admin login: {email} / {password}"

    def _demo_user(self) -> str:
        if not User.objects.filter(email=DEMO_EMAIL).exists():
            account_services.user_create(email=DEMO_EMAIL, password=DEMO_PASSWORD, full_name="Demo User")
        return f"  Demo login:  {DEMO_EMAIL} / {DEMO_PASSWORD}"
