"""An admin's notice template renders within an output budget and a time limit: a runaway
template is stopped with an error that names it (EN/KO), produces no notice and breaks no
page; ordinary templates render exactly as before."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest
from django.core.management import call_command
from django.template import Context, Engine, defaultfilters, defaulttags
from django.utils import translation
from django.utils.translation import trans_real

from cases.notices.defaults import default_template
from cases.notices.models import LegalBasis, NoticeTemplate
from cases.notices.services import template_limits
from cases.notices.services.drafts import notice_context, notice_render
from cases.notices.services.errors import NoticeError
from cases.notices.services.templates import notice_template_save

pytestmark = pytest.mark.django_db

# 1,000 x 1,000 iterations of a 30-character line: a 30 MB body.
THIRTY_MB = (
    '{% with big="' + "x" * 1000 + '"|make_list %}'
    "{% for a in big %}{% for b in big %}{{ explanation|slice:':30' }}{% endfor %}{% endfor %}"
    "{% endwith %}"
)
# 10^9 empty iterations: minutes of CPU, no output at all.
SLOW = (
    '{% with big="' + "x" * 1000 + '"|make_list %}'
    "{% for a in big %}{% for b in big %}{% for c in big %}{% endfor %}{% endfor %}{% endfor %}"
    "{% endwith %}"
)
# Thirty doublings in {% with %}: a gigabyte without a single loop or any output.
DOUBLING = "".join(f"{{% with v{n}=v{n - 1}|add:v{n - 1} %}}" for n in range(1, 31))
DOUBLING = '{% with v0="xy" %}' + DOUBLING + "{{ v30|length }}" + "{% endwith %}" * 31
# One filter or tag call each that would build 30 million characters or more.
SINGLE_CALLS = [
    '{{ "x"|ljust:"30000000" }}',
    '{{ "x"|rjust:"30000000" }}',
    '{{ "x"|center:"30000000" }}',
    '{{ 1|stringformat:"030000000d" }}',
    '{{ "1.5"|floatformat:"30000000" }}',
    "{% lorem 3000000 w %}",
    "{% lorem 30000 p %}",
    '{% with big="' + "x" * 5000 + '"|make_list %}{{ big|join:big }}{% endwith %}',
    '{% with f="' + "r" * 50000 + '" %}{% for u in urls %}{{ u|date:f }}{% endfor %}{% endwith %}',
    # A limit passed inside {% if %}, whose operators swallow exceptions, still stops it.
    '{% if "x"|ljust:"30000000" == "y" %}{% endif %}done',
]


def _save(agency: Any, body: str, subject: str = "Notice") -> None:
    # Stored as it would be after an upgrade that added the limits: save() would refuse it.
    NoticeTemplate.objects.update_or_create(
        agency=agency,
        legal_basis="dmca_512c3",
        language="en",
        defaults={"subject": subject, "body": body},
    )


@pytest.fixture(autouse=True)
def _time_enough(settings) -> None:  # type: ignore[no-untyped-def]
    # Memory tracing slows rendering down many times: only the time-limit test sets one.
    settings.NOTICE_TEMPLATE_TIMEOUT_MS = 120_000


def _render_measured(notice: Any) -> tuple[NoticeError, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(NoticeError) as caught:
            notice_render(notice)
        return caught.value, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_thirty_megabyte_template_is_stopped_at_the_output_limit(agency, make_notice) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    _save(agency, THIRTY_MB)
    error, _seconds, peak = _render_measured(notice)
    expected = "“US DMCA § 512(c)(3) · English” was stopped: its body produced more than 1,000,000"
    assert expected in str(error)
    assert peak < 20_000_000


def test_a_slow_template_is_stopped_at_the_time_limit(agency, make_notice, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTICE_TEMPLATE_TIMEOUT_MS = 300
    notice = make_notice("dmca_512c3")
    _save(agency, SLOW)
    error, seconds, _peak = _render_measured(notice)
    assert "its body took longer than 300 ms to render" in str(error)
    assert seconds < 1.5


def test_the_subject_is_limited_too(agency, make_notice, settings) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    # 1,000 times 2,000 characters, in a source that fits the subject's 300 characters.
    subject = (
        '{% with b="0123456789"|make_list %}{% for x in b %}{% for y in b %}{% for z in b %}'
        '{{ "x"|ljust:"2000" }}{% endfor %}{% endfor %}{% endfor %}{% endwith %}'
    )
    assert len(subject) <= 300
    _save(agency, "fine", subject=subject)
    assert "its subject produced more than" in str(_render_measured(notice)[0])


@pytest.mark.parametrize("body", [DOUBLING, *SINGLE_CALLS])
def test_single_steps_that_would_blow_up_are_refused_before_they_run(
    agency, make_notice, body
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    _save(agency, body)
    error, _seconds, peak = _render_measured(notice)
    assert "produced more than 1,000,000 characters" in str(error)
    assert peak < 20_000_000


def test_without_the_limits_these_templates_do_run_away(make_notice) -> None:  # type: ignore[no-untyped-def]
    # The contrary case, scaled down: the plain engine renders what the guarded one stops.
    context = Context(notice_context(make_notice("dmca_512c3")), autoescape=False)
    plain = Engine(autoescape=False)
    assert len(plain.from_string('{{ "x"|ljust:"3000000" }}').render(context)) == 3_000_000
    small_loop = THIRTY_MB.replace("x" * 1000, "x" * 400)
    assert len(plain.from_string(small_loop).render(context)) == 400 * 400 * 30


@pytest.fixture
def korean_catalog(settings) -> None:  # type: ignore[no-untyped-def]
    """Compile the Korean catalogue when the .mo is missing or older than the .po."""
    po = settings.BASE_DIR / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        call_command("compilemessages", locale=["ko"], ignore_patterns=[".venv"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None


def test_the_error_is_in_korean_for_a_korean_admin(agency, make_notice, korean_catalog) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    _save(agency, THIRTY_MB)
    with translation.override("ko"):
        message = str(_render_measured(notice)[0])
    assert (
        "통지 템플릿 “미국 DMCA § 512(c)(3) · 영어”의 렌더링이 중단되었습니다: 본문이(가)"
        in message
    )


@pytest.mark.parametrize("basis", LegalBasis.values)
@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_default_templates_render_exactly_as_without_limits(
    make_notice, basis, language
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(basis, language)
    rendered = notice_render(notice)
    subject_src, body_src = default_template(basis, language)
    plain = Engine(autoescape=False)
    context = Context(notice_context(notice), autoescape=False)
    assert rendered.subject == " ".join(plain.from_string(subject_src).render(context).split())
    lines = [line.rstrip() for line in plain.from_string(body_src).render(context).split("\n")]
    assert rendered.body.split() == "\n".join(lines).split()


def test_a_runaway_template_is_refused_when_saved(agency) -> None:  # type: ignore[no-untyped-def]
    for body in (THIRTY_MB, '{{ "x"|ljust:"30000000" }}'):
        with pytest.raises(NoticeError, match="produced more than"):
            notice_template_save(
                agency=agency,
                legal_basis="kcsc",
                language="en",
                subject="s",
                body=body,
                actor=None,
            )
    assert not NoticeTemplate.objects.exists()
    with pytest.raises(NoticeError, match="longer than 100,000 characters"):
        notice_template_save(
            agency=agency,
            legal_basis="kcsc",
            language="en",
            subject="s",
            body="x" * 100_001,
            actor=None,
        )


def test_the_template_editor_shows_why(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.post(
        "/notices/templates/edit/",
        {"basis": "kcsc", "language": "ko", "subject": "s", "body": THIRTY_MB},
    )
    assert response.status_code == 200
    assert "produced more than 1,000,000 characters" in response.content.decode()
    assert not NoticeTemplate.objects.exists()


def test_the_notice_pages_show_the_error_instead_of_a_500(client, agency, bob, make_notice) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    _save(agency, THIRTY_MB)
    client.force_login(bob)
    detail = client.get(f"/notices/{notice.pk}/")
    assert detail.status_code == 200
    assert "was stopped: its body produced more than" in detail.content.decode()
    for query in ("", "?file=text"):
        download = client.get(f"/notices/{notice.pk}/download/{query}", follow=True)
        assert download.status_code == 200
        assert "was stopped: its body produced more than" in download.content.decode()


def test_every_filter_and_tag_was_reviewed_for_how_much_it_can_produce() -> None:
    # A Django upgrade that adds a filter fails here until it is put in one of the lists.
    filters = set(defaultfilters.register.filters)
    assert filters == set(template_limits.RESULT_BOUND) | template_limits.BOUNDED_BY_INPUT
    assert not set(template_limits.RESULT_BOUND) & template_limits.BOUNDED_BY_INPUT
    # Tags: loops and {% with %} tick the clock (BoundedContext); {% lorem %} is guarded;
    # the others print a bounded amount or what their (guarded) children produce.
    assert set(defaulttags.register.tags) == {
        "autoescape", "comment", "csrf_token", "cycle", "debug", "filter", "firstof", "for",
        "if", "ifchanged", "load", "lorem", "now", "querystring", "regroup", "resetcycle",
        "spaceless", "templatetag", "url", "verbatim", "widthratio", "with",
    }  # fmt: skip
