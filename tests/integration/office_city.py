"""A small city for the health authority's tests, built through the services on a fixed clock:
a case and a contact share a restaurant for 40 minutes; later the contact shares a shop with a
third resident (a secondary contact); a bystander is elsewhere. The lab's CSV reports the case
positive."""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM
from healthcode.domain.documents import mod11_2_check_char
from healthcode.services import checkins, enrolment, venues

MIN, HOUR, DAY = 60, 3600, 86400
NAMES = ("陈一", "陈二", "陈三", "陈四")


def doc_number(i: int) -> str:
    body = f"44010619850101{i:03d}"
    return body + mod11_2_check_char(body)


@dataclass(frozen=True)
class City:
    case: str  # subject ids
    contact: str
    secondary: str
    bystander: str
    restaurant: str  # venue ids
    shop: str
    csv: str  # the lab's file: the case is positive

    @property
    def people(self) -> list[str]:
        return [self.case, self.contact, self.secondary, self.bystander]


def _venue(app: App, name: str, kind: str) -> venues.VenueWithPoster:
    cmd = venues.RegisterVenue(name, None, "1 Road", "Tianhe", kind, "Op Co")
    return venues.register_venue(app.ctx, cmd, SYSTEM)


def _visit(app: App, clock: FixedClock, who: list[str], place: venues.VenueWithPoster) -> None:
    """Everyone in `who` checks in together, stays 40 minutes and leaves."""
    visits = [checkins.check_in_at_place(app.ctx, s, place.poster.payload)[0] for s in who]
    clock.advance(40 * MIN)
    for s, v in zip(who, visits, strict=True):
        checkins.leave(app.ctx, s, v.venue_id, v.checkin_id)


def build_city(app: App, clock: FixedClock) -> City:
    people = [
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident(name, "prc_id", doc_number(i), f"1371234{i:04d}")
        ).subject_id
        for i, name in enumerate(NAMES)
    ]
    case, contact, secondary, bystander = people
    restaurant, shop, park = (
        _venue(app, "老街餐厅", "restaurant"),
        _venue(app, "街角小店", "shop"),
        _venue(app, "河边超市", "supermarket"),
    )
    _visit(app, clock, [case, contact], restaurant)
    clock.advance(HOUR)
    _visit(app, clock, [contact, secondary], shop)
    _visit(app, clock, [bystander], park)
    clock.advance(HOUR)
    csv = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,{doc_number(0)},{clock.now() - HOUR},positive,LAB1\n"
    )
    return City(
        case, contact, secondary, bystander, restaurant.venue.venue_id, shop.venue.venue_id, csv
    )
