from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommender.onnx_encoder import INT8_FILE, build, files_dir


class Command(BaseCommand):
    help = (
        "Export the packaged all-MiniLM-L6-v2 to ONNX (fp32 and int8) into ONNX_CACHE_DIR for the query encoder; "
        "does nothing when the files of this model and toolchain exist. Run by `make install`."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Rebuild even if the files exist.")

    def handle(self, *args, force: bool, **options) -> None:
        if settings.EMBEDDING_BACKEND != "local" or settings.QUERY_ENCODER == "torch":
            self.stdout.write("Query encoder is not ONNX here (EMBEDDING_BACKEND / QUERY_ENCODER); nothing to build.")
            return
        try:
            existed = (files_dir(settings.ONNX_CACHE_DIR) / INT8_FILE).exists()
            started = time.perf_counter()
            directory = build(settings.ONNX_CACHE_DIR, force=force)
        except Exception as error:  # any failure leaves torch answering queries
            raise CommandError(f"Could not build the ONNX query encoder ({error}); queries will use torch.") from error
        if existed and not force:
            self.stdout.write(f"ONNX query encoder up to date in {directory}")
        else:
            self.stdout.write(f"ONNX query encoder built in {directory} in {time.perf_counter() - started:.0f}s")
