"""The bots app's writes. Callers use `from bots import services`."""

from bots.services.catalog import (
    bot_create,
    bot_delete,
    bot_update,
    category_create,
    category_delete,
    category_update,
    model_config_add,
    model_config_remove,
    model_config_update,
    model_config_validate,
)
from bots.services.documents import (
    clean_filename,
    document_delete,
    document_fail,
    document_index,
    document_reindex,
    document_reindex_many,
    document_requeue_stale,
    document_set_metadata,
    document_upload,
    max_upload_bytes,
)

__all__ = [
    "bot_create",
    "bot_delete",
    "bot_update",
    "category_create",
    "category_delete",
    "category_update",
    "clean_filename",
    "document_delete",
    "document_fail",
    "document_index",
    "document_reindex",
    "document_reindex_many",
    "document_requeue_stale",
    "document_set_metadata",
    "document_upload",
    "max_upload_bytes",
    "model_config_add",
    "model_config_remove",
    "model_config_update",
    "model_config_validate",
]
