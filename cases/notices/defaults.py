"""The default notice wording shipped with the code, per legal basis and language.

Django template syntax, rendered by cases.notices.services.drafts.notice_render with a context of
plain strings and lists (no model objects, so a template cannot reach anything else):
  agency, platform, basis, date, notice_id, urls, works, artists, explanation, evidence,
  signer.{full_name,title,organisation,postal_address,phone,email,signature},
  statements.{good_faith,accuracy,bona_fide,non_consent,authorised_for_individual,
  deletion_request}.
Each basis's default carries only the statements that basis asks for
(cases.notices.bases.STATEMENT_KEYS): the DMCA perjury and exclusive-rights statements only
in DMCA notices, the 48-hour deadline only in TAKE IT DOWN requests, 임시조치 only in
Network Act requests; tests/notices/test_legal_text.py holds them to it.
Agency admins override them per basis and language (NoticeTemplate); legal staff should
review the wording before relying on it. When a default changes, the data migration that
ships it resets only the agency rows that still hold an old default word for word
(cases/migrations/0009_notice_submission.py); edited rows are kept, and a notice whose
text carries another basis's wording says so on its page.
"""

from __future__ import annotations

from cases.notices.models import LegalBasis

URLS_EN = "{% for url in urls %}  {{ forloop.counter }}. {{ url }}\n{% endfor %}"
URLS_KO = URLS_EN
WORKS_EN = "{% for work in works %}  - {{ work }}\n{% endfor %}"
EVIDENCE_EN = "{% for item in evidence %}  - {{ item }}\n{% endfor %}"
SIGNATURE_EN = """{{ signer.signature }}
{{ signer.full_name }}{% if signer.title %}, {{ signer.title }}{% endif %}
{{ signer.organisation }}
{{ signer.postal_address }}
Telephone: {{ signer.phone }}
E-mail: {{ signer.email }}
Date: {{ date }}"""
SIGNATURE_KO = """{{ signer.signature }}
{{ signer.full_name }}{% if signer.title %}, {{ signer.title }}{% endif %}
{{ signer.organisation }}
주소: {{ signer.postal_address }}
전화: {{ signer.phone }}
이메일: {{ signer.email }}
일자: {{ date }}"""

EN: dict[str, tuple[str, str]] = {
    LegalBasis.DMCA_512C3: (
        "DMCA notice of infringement: {{ platform }} ({{ agency }})",
        f"""To the designated agent of {{{{ platform }}}}:

This is a notification of claimed infringement under 17 U.S.C. § 512(c)(3) on behalf of {{{{ agency }}}}.

1. Copyrighted work(s) infringed:
{WORKS_EN}
2. Infringing material, to be removed or disabled:
{URLS_EN}
The material is an altered ("deepfake") copy of the work(s) above{{% if artists %}} depicting {{{{ artists|join:", " }}}}{{% endif %}}.
{{% if explanation %}}
{{{{ explanation }}}}
{{% endif %}}
3. {{{{ statements.good_faith }}}}

4. {{{{ statements.accuracy }}}}

{SIGNATURE_EN}
""",
    ),
    LegalBasis.EU_DSA_16: (
        "Notice of illegal content under Article 16 DSA: {{ platform }}",
        f"""To {{{{ platform }}}},

Under Article 16 of the Digital Services Act (Regulation (EU) 2022/2065), {{{{ agency }}}} notifies the following illegal content.

Exact location of the content:
{URLS_EN}
Why the content is illegal:
{{{{ explanation }}}}
{{% if artists %}}
Person(s) depicted: {{{{ artists|join:", " }}}}
{{% endif %}}
{{{{ statements.bona_fide }}}}

{{% if signer.full_name %}}{SIGNATURE_EN}{{% else %}}Date: {{{{ date }}}}{{% endif %}}
""",
    ),
    LegalBasis.TAKE_IT_DOWN: (
        "TAKE IT DOWN Act removal request: {{ platform }}",
        f"""To {{{{ platform }}}},

This is a removal request under the TAKE IT DOWN Act for non-consensual intimate imagery, including digital forgeries, made by {{{{ agency }}}} on behalf of the identifiable individual{{% if artists %}} ({{{{ artists|join:", " }}}}){{% endif %}}. The Act requires removal within 48 hours of a valid request, and reasonable efforts to remove identical copies.

Identification and location of the intimate visual depiction:
{URLS_EN}{{% if explanation %}}
Information showing that it was published without consent:
{{{{ explanation }}}}
{{% endif %}}
{{{{ statements.non_consent }}}}

{{{{ statements.authorised_for_individual }}}}

{SIGNATURE_EN}
""",
    ),
    LegalBasis.KR_NETWORK_ACT_44_2: (
        "Request for deletion under Korean Network Act Art. 44-2: {{ platform }}",
        f"""To {{{{ platform }}}},

Under Article 44-2 of the Act on Promotion of Information and Communications Network Utilization and Information Protection, {{{{ agency }}}}, acting for the person whose rights are infringed, requests the deletion of the following information.

Person whose rights are infringed: {{{{ artists|join:", "|default:"our artist" }}}}

Information to be deleted:
{URLS_EN}
Statement of supporting evidence (소명):
{{{{ explanation }}}}
{{% if evidence %}}
Supporting evidence attached:
{EVIDENCE_EN}{{% endif %}}
{{{{ statements.deletion_request }}}}

Requester (agent of the person whose rights are infringed):
{SIGNATURE_EN}
""",
    ),
    LegalBasis.KCSC: (
        "Correction request (KCSC): {{ platform }}",
        f"""To the Korea Communications Standards Commission,

{{{{ agency }}}} asks for a correction request (access blocking) concerning the following content hosted by {{{{ platform }}}}.

Content:
{URLS_EN}
Reason:
{{{{ explanation }}}}

{SIGNATURE_EN}
""",
    ),
    LegalBasis.PLATFORM_POLICY: (
        "Report under {{ platform }} policy ({{ agency }})",
        f"""To {{{{ platform }}}} trust and safety,

{{{{ agency }}}} reports the following content as violating your policy on synthetic and manipulated media, impersonation and non-consensual imagery.

Content:
{URLS_EN}{{% if explanation %}}
{{{{ explanation }}}}
{{% endif %}}
{SIGNATURE_EN}
""",
    ),
}

KO: dict[str, tuple[str, str]] = {
    LegalBasis.DMCA_512C3: (
        "DMCA 저작권 침해 통지: {{ platform }} ({{ agency }})",
        f"""{{{{ platform }}}} 지정 대리인 귀하

본 통지는 {{{{ agency }}}}을(를) 대리하여 미국 저작권법 17 U.S.C. § 512(c)(3)에 따라 저작권 침해를 알리는 통지입니다.

1. 침해된 저작물:
{WORKS_EN}
2. 삭제 또는 접근 차단을 요청하는 침해 자료:
{URLS_KO}
위 자료는 위 저작물을 변조한 복제물(딥페이크)입니다{{% if artists %}} (등장 인물: {{{{ artists|join:", " }}}}){{% endif %}}.
{{% if explanation %}}
{{{{ explanation }}}}
{{% endif %}}
3. {{{{ statements.good_faith }}}}

4. {{{{ statements.accuracy }}}}

{SIGNATURE_KO}
""",
    ),
    LegalBasis.EU_DSA_16: (
        "디지털서비스법(DSA) 제16조에 따른 불법 콘텐츠 신고: {{ platform }}",
        f"""{{{{ platform }}}} 귀하

{{{{ agency }}}}은(는) EU 디지털서비스법(규정 (EU) 2022/2065) 제16조에 따라 다음 불법 콘텐츠를 신고합니다.

콘텐츠의 정확한 위치:
{URLS_KO}
콘텐츠가 불법인 이유:
{{{{ explanation }}}}
{{% if artists %}}
등장 인물: {{{{ artists|join:", " }}}}
{{% endif %}}
{{{{ statements.bona_fide }}}}

{{% if signer.full_name %}}{SIGNATURE_KO}{{% else %}}일자: {{{{ date }}}}{{% endif %}}
""",
    ),
    LegalBasis.TAKE_IT_DOWN: (
        "TAKE IT DOWN 법에 따른 삭제 요청: {{ platform }}",
        f"""{{{{ platform }}}} 귀하

본 요청은 {{{{ agency }}}}이(가) 식별 가능한 당사자{{% if artists %}}({{{{ artists|join:", " }}}}){{% endif %}}를 대리하여 미국 TAKE IT DOWN 법에 따라 디지털 위조물을 포함한 비동의 친밀 영상물의 삭제를 요청하는 것입니다. 같은 법은 유효한 요청을 받은 때부터 48시간 이내의 삭제와 동일한 사본을 삭제하기 위한 합리적인 노력을 요구합니다.

친밀 영상물의 특정 및 위치:
{URLS_KO}{{% if explanation %}}
동의 없이 게시되었음을 보여 주는 정보:
{{{{ explanation }}}}
{{% endif %}}
{{{{ statements.non_consent }}}}

{{{{ statements.authorised_for_individual }}}}

{SIGNATURE_KO}
""",
    ),
    LegalBasis.KR_NETWORK_ACT_44_2: (
        "정보통신망법 제44조의2에 따른 정보 삭제 요청: {{ platform }}",
        f"""{{{{ platform }}}} 귀중

{{{{ agency }}}}은(는) 「정보통신망 이용촉진 및 정보보호 등에 관한 법률」 제44조의2에 따라, 권리를 침해받은 사람을 대리하여 아래 정보의 삭제를 요청합니다.

권리를 침해받은 사람: {{{{ artists|join:", "|default:"소속 아티스트" }}}}

삭제 요청 정보:
{URLS_KO}
침해 사실의 소명:
{{{{ explanation }}}}
{{% if evidence %}}
첨부 소명 자료:
{EVIDENCE_EN}{{% endif %}}
{{{{ statements.deletion_request }}}}

요청인(권리를 침해받은 사람의 대리인):
{SIGNATURE_KO}
""",
    ),
    LegalBasis.KCSC: (
        "방송통신심의위원회 시정요구 신청: {{ platform }}",
        f"""방송통신심의위원회 귀중

{{{{ agency }}}}은(는) {{{{ platform }}}}에 게시된 아래 정보에 대하여 시정요구(접속차단)를 신청합니다.

대상 정보:
{URLS_KO}
신청 사유:
{{{{ explanation }}}}

{SIGNATURE_KO}
""",
    ),
    LegalBasis.PLATFORM_POLICY: (
        "{{ platform }} 정책 위반 신고 ({{ agency }})",
        f"""{{{{ platform }}}} 신뢰·안전팀 귀중

{{{{ agency }}}}은(는) 아래 콘텐츠가 합성·조작 미디어, 사칭 및 비동의 영상물에 관한 귀사의 정책을 위반하여 신고합니다.

대상 콘텐츠:
{URLS_KO}{{% if explanation %}}
{{{{ explanation }}}}
{{% endif %}}
{SIGNATURE_KO}
""",
    ),
}

DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {"en": EN, "ko": KO}


def default_template(basis: str, language: str) -> tuple[str, str]:
    """(subject, body) shipped for the basis and language."""
    return DEFAULTS[language][basis]
