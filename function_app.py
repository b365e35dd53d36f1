"""The Functions app: composes the blueprints, nothing else."""

import azure.functions as func

from functions import ask, callbacks, classify, gold, ingest, routing

app = func.FunctionApp()
app.register_functions(ingest.bp)
app.register_functions(classify.bp)
app.register_functions(gold.bp)
app.register_functions(callbacks.bp)
app.register_functions(routing.bp)
app.register_functions(ask.bp)
