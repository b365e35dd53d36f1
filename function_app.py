"""The Functions app: composes the blueprints, nothing else."""

import azure.functions as func

from functions import ingest

app = func.FunctionApp()
app.register_functions(ingest.bp)
