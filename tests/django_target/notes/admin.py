from __future__ import annotations

from django.contrib import admin

from django_target.notes.models import Note

admin.site.register(Note)
