from loader.cli import app

app()
