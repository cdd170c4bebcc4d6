# The app's image, for compose.yaml (and any container platform). The processes are the
# Procfile's; compose.yaml names the command of each.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files (admin, Swagger UI, kitchen page) are collected into the image; whitenoise
# serves them compressed. The key only lets settings load for this step.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --no-create-home app
USER app

EXPOSE 8000
CMD ["uvicorn", "restaurant.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
