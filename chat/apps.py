from django.apps import AppConfig


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self) -> None:
        from bots.knowledge.embeddings import sentence_similarities
        from chat.llm import local

        # The offline provider ranks sentences by the knowledge embedder's meaning.
        local.use_sentence_similarity(sentence_similarities)
