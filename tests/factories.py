"""factory-boy factories. Agencies are made through agency_create so they get their audit
chain and seeded platforms, exactly like real ones."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from cases.agency.models import Artist, Group
from cases.agency.services.tenancy import agency_create
from cases.intake.services.findings import finding_record
from cases.kernel.models import Agency, Membership, Role


def make_agency(name: str, slug: str) -> Agency:
    return agency_create(name=name, slug=slug)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.LEGAL


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")
    name_hangul = "그룹"


class ArtistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Artist

    stage_name = factory.Sequence(lambda n: f"Artist {n}")
    name_hangul = "하나"
    name_latin = "Hana"
    legal_name = factory.Sequence(lambda n: f"Legal Name {n}")


def make_finding(agency: Agency, url: str, actor=None, **kwargs):  # type: ignore[no-untyped-def]
    finding, _created = finding_record(agency=agency, url=url, actor=actor, **kwargs)
    return finding
