from app import create_app

celery = create_app().extensions["celery"]
