"""The floor: the cheapest possible Flask page, served like the portal to compare against."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "Rete dei Comuni Amici della Famiglia"
