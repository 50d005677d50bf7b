"""An OpenID Connect sign-in across two origins: django-oauth-toolkit provides, mozilla-django-oidc signs in.

Two Django projects, written into a tmp dir and served by gunicorn: the provider on ``idp.test``
(PyPI ``django-oauth-toolkit``, OIDC on, its authorization endpoint behind Django's login form)
and the client app on ``app.test`` (PyPI ``mozilla-django-oidc``, the authorization code flow
with PKCE, ID tokens signed HS256 with the client secret). The client redeems the code and reads
the user info server-side, through the provider's counting front (so those requests are hits
too). Set-up (migrations, the user, the registered client) runs before each server starts.
Feature: the app's "Log in" goes to the provider's origin, Django's login form there takes the
credentials, the provider redirects back with a code, and the app shows who is signed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest
from compat_apps import GUNICORN_PORT, AppSpec, RunningApp, gunicorn
from compat_fixture import modes_fixture, started
from compat_modes import Feature, Modes, Step, Tracker, check_mode, matrix
from playwright.async_api import Page

pytestmark = [pytest.mark.compat, pytest.mark.asyncio(loop_scope="module")]

IDP_HOST = "idp.test"
APP_HOST = "app.test"
USER, PASSWORD, EMAIL = "ann", "compat-password-1", "ann@example.test"
# The flow's state, nonce, PKCE challenge and code are fresh random values in these queries.
RANDOM_QUERY = ("/o/authorize/", "/accounts/login/", "/oidc/callback/")
CLIENT_ID, CLIENT_SECRET = "compat-client", "compat-client-secret-of-at-least-32-bytes"  # HS256 needs 256 bits

COMMON = """
from pathlib import Path
ROOT = Path(__file__).parent
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
LOGGING = {  # errors to the server's output (start_app keeps its tail), not to e-mail
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "ERROR"},
                "mozilla_django_oidc": {"handlers": ["console"], "level": "DEBUG"}},
}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [ROOT / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]
"""

IDP_SETTINGS = COMMON + f"""
SECRET_KEY = "compat-idp-secret-key-not-for-production"
ALLOWED_HOSTS = ["{IDP_HOST}", "127.0.0.1"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "oauth2_provider"]
ROOT_URLCONF = "idp_urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ROOT / "idp.sqlite3"}}}}
LOGIN_URL = "/accounts/login/"
OAUTH2_PROVIDER = {{
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": "http://{IDP_HOST}/o",
    "OAUTH2_VALIDATOR_CLASS": "idp_validator.Validator",
    "SCOPES": {{"openid": "OpenID Connect", "email": "Email address"}},
}}
"""

IDP_VALIDATOR = """
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below goes to every client that asks for openid

    def get_additional_claims(self, request):
        return {"email": request.user.email, "preferred_username": request.user.username}
"""

IDP_URLS = """
from django.contrib.auth import views
from django.urls import include, path

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
"""

LOGIN_TEMPLATE = """<!doctype html>
<title>Identity provider</title>
<h1>Sign in to the identity provider</h1>
<form method="post" action="">{% csrf_token %}
  <p><label>User <input name="username" id="username" autocomplete="username"></label></p>
  <p><label>Password <input name="password" id="password" type="password" autocomplete="current-password"></label></p>
  <input type="hidden" name="next" value="{{ next }}">
  <p><button type="submit">Sign in</button></p>
</form>
"""

APP_SETTINGS = """
SECRET_KEY = "compat-app-secret-key-not-for-production"
ALLOWED_HOSTS = ["{app_host}", "127.0.0.1"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "mozilla_django_oidc"]
ROOT_URLCONF = "app_urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ROOT / "app.sqlite3"}}}}
AUTHENTICATION_BACKENDS = ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]
OIDC_RP_CLIENT_ID = "{client_id}"
OIDC_RP_CLIENT_SECRET = "{client_secret}"
OIDC_RP_SIGN_ALGO = "HS256"
OIDC_RP_SCOPES = "openid email"
OIDC_USE_PKCE = True
OIDC_OP_AUTHORIZATION_ENDPOINT = "http://{idp_host}/o/authorize/"
OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:{idp_port}/o/token/"
OIDC_OP_USER_ENDPOINT = "http://127.0.0.1:{idp_port}/o/userinfo/"
LOGIN_URL = "/oidc/authenticate/"
LOGIN_REDIRECT_URL = "/"
"""

APP_URLS = """
from django.http import HttpResponse
from django.urls import include, path
from django.utils.html import escape


def home(request):
    if request.user.is_authenticated:
        body = f"<h1 id='who'>Signed in as {escape(request.user.email)}</h1>"
    else:
        body = "<h1 id='who'>Not signed in</h1><p><a id='login' href='/oidc/authenticate/'>Log in</a></p>"
    return HttpResponse("<!doctype html><title>Client app</title>" + body)


urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls")), path("", home)]
"""

IDP_SETUP = f"""
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from oauth2_provider.models import Application
call_command("migrate", verbosity=0)
User.objects.create_user("{USER}", "{EMAIL}", "{PASSWORD}")
Application.objects.create(
    name="compat", client_id="{CLIENT_ID}", client_secret="{CLIENT_SECRET}", hash_client_secret=False,
    client_type=Application.CLIENT_CONFIDENTIAL, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    redirect_uris="http://{APP_HOST}/oidc/callback/", skip_authorization=True, algorithm=Application.HS256_ALGORITHM)
"""

MIGRATE = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
"""


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


async def _setup(root: Path, settings: str, script: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(root)}
    run = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=root, env=env,
                                               stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await run.communicate()
    assert run.returncode == 0, f"{settings} set-up failed:\n{output.decode(errors='replace')}"


def _django(name: str, host: str, root: Path, settings: str) -> AppSpec:
    (root / f"{settings}_wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n")
    return AppSpec(name, host, gunicorn(f"{settings}_wsgi:application", ("--chdir", str(root))), GUNICORN_PORT,
                   env=(("DJANGO_SETTINGS_MODULE", settings),), random_query=RANDOM_QUERY)


async def _idp(root: Path) -> AppSpec:
    _files(root, {"idp_settings.py": IDP_SETTINGS, "idp_validator.py": IDP_VALIDATOR, "idp_urls.py": IDP_URLS,
                  "templates/registration/login.html": LOGIN_TEMPLATE})
    await _setup(root, "idp_settings", IDP_SETUP)
    return _django("oidc-provider", IDP_HOST, root, "idp_settings")


async def _client(root: Path, idp: RunningApp) -> AppSpec:
    settings = COMMON + APP_SETTINGS.format(app_host=APP_HOST, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                   idp_host=IDP_HOST, idp_port=idp.front_port)
    _files(root, {"app_settings.py": settings, "app_urls.py": APP_URLS})
    await _setup(root, "app_settings", MIGRATE)
    return _django("oidc-client", APP_HOST, root, "app_settings")


async def _start(root: Path, stack: contextlib.AsyncExitStack) -> tuple[RunningApp, ...]:
    # The client is told the provider's (front) port, so the provider starts first.
    (root / "idp").mkdir()
    (root / "client").mkdir()
    idp = await started(stack, await _idp(root / "idp"))
    client = await started(stack, await _client(root / "client", idp))
    return client, idp


async def _where(page: Page, tracker: Tracker) -> str:
    shown: str = await page.evaluate(
        "() => `${document.title} | ${(document.querySelector('h1') || {}).textContent || '(no heading)'}`")
    return shown


async def _log_in(page: Page) -> None:
    await page.click("#login")


async def _sign_in(page: Page) -> None:
    await page.fill("#username", USER)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


def _heading(text: str) -> str:
    return f"() => (document.querySelector('h1') || {{}}).textContent === {text!r}"


FEATURES = (
    Feature("oidc sign-in", "log in on the provider's origin", "/", (
        Step("the app, signed out", "/", "Client app | Not signed in", ready=_heading("Not signed in"),
             observe=_where),
        Step("Log in: the provider's form", "/accounts/login/", "Identity provider | Sign in to the identity provider",
             act=_log_in, ready=_heading("Sign in to the identity provider"), observe=_where),
        Step("credentials: back on the app, signed in", "/", f"Client app | Signed in as {EMAIL}", act=_sign_in,
             ready=_heading(f"Signed in as {EMAIL}"), observe=_where),
    ), reaches=("/oidc/authenticate/", "/o/authorize/", "/o/token/", "/o/userinfo/", "/oidc/callback/")),
)

KNOWN: dict[tuple[str, str], str] = {}


modes = modes_fixture("oidc", _start, follower_wait=5.0)


@pytest.mark.parametrize(("feature", "mode"), matrix(FEATURES, KNOWN))
async def test_oidc_sign_in_across_two_origins_shows_the_direct_outcome_in_each_mode(modes: Modes, feature: Feature,
                                                                                     mode: str) -> None:
    await check_mode(modes, feature, mode)
