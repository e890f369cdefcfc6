"""The upload handler every API that accepts a knowledge document puts first: the native
API, the panel (the same view) and Bytchat v1."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from bots import services
from bots.errors import FileTooLarge


class UploadSizeLimit(FileUploadHandler):
    """Stops reading an upload as soon as it passes MAX_UPLOAD_MB, instead of spooling
    the whole body to disk first."""

    # Room for the multipart envelope around the file.
    ENVELOPE_BYTES = 64 * 1024

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = services.max_upload_bytes()

    def _too_large(self) -> FileTooLarge:
        return FileTooLarge(
            f"The file is larger than {settings.MAX_UPLOAD_MB} MB.", extra={"max_bytes": self.limit}
        )

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + self.ENVELOPE_BYTES:
            raise self._too_large()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            raise self._too_large()
        return raw_data

    def file_complete(self, file_size):
        return None
