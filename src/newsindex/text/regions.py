"""The regions a dateline names after its city: US states (AP Stylebook), Canadian provinces, countries.

`canonical_region` gives the form newsindex stores and shows: for a US state its AP Stylebook dateline
abbreviation ("Calif.", "N.Y.", "D.C."; Alaska, Hawaii, Idaho, Iowa, Maine, Ohio, Texas and Utah spelled
out), however the copy wrote it ("CALIF.", "Calif", "California", "CA"); a Canadian province spelled out,
as AP datelines write them ("Alberta" for "Alta."); anything else, a country or a region of one, in
readable form ("West Germany", "New Zealand").
"""

from __future__ import annotations

from functools import lru_cache

from newsindex.text.names import display_name, name_key

# (AP dateline form, full name, postal code, other spellings seen on the wire)
_US_STATES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Ala.", "Alabama", "AL", ()),
    ("Alaska", "Alaska", "AK", ()),
    ("Ariz.", "Arizona", "AZ", ()),
    ("Ark.", "Arkansas", "AR", ()),
    ("Calif.", "California", "CA", ("Cal.", "Cali.")),
    ("Colo.", "Colorado", "CO", ("Col.",)),
    ("Conn.", "Connecticut", "CT", ()),
    ("Del.", "Delaware", "DE", ()),
    ("D.C.", "District of Columbia", "DC", ()),
    ("Fla.", "Florida", "FL", ("Flo.",)),
    ("Ga.", "Georgia", "GA", ()),
    ("Hawaii", "Hawaii", "HI", ()),
    ("Idaho", "Idaho", "ID", ("Ida.",)),
    ("Ill.", "Illinois", "IL", ()),
    ("Ind.", "Indiana", "IN", ()),
    ("Iowa", "Iowa", "IA", ()),
    ("Kan.", "Kansas", "KS", ("Kans.",)),
    ("Ky.", "Kentucky", "KY", ()),
    ("La.", "Louisiana", "LA", ()),
    ("Maine", "Maine", "ME", ()),
    ("Md.", "Maryland", "MD", ()),
    ("Mass.", "Massachusetts", "MA", ()),
    ("Mich.", "Michigan", "MI", ()),
    ("Minn.", "Minnesota", "MN", ()),
    ("Miss.", "Mississippi", "MS", ()),
    ("Mo.", "Missouri", "MO", ()),
    ("Mont.", "Montana", "MT", ()),
    ("Neb.", "Nebraska", "NE", ("Nebr.",)),
    ("Nev.", "Nevada", "NV", ()),
    ("N.H.", "New Hampshire", "NH", ()),
    ("N.J.", "New Jersey", "NJ", ()),
    ("N.M.", "New Mexico", "NM", ("N.Mex.",)),
    ("N.Y.", "New York", "NY", ()),
    ("N.C.", "North Carolina", "NC", ()),
    ("N.D.", "North Dakota", "ND", ("N.Dak.",)),
    ("Ohio", "Ohio", "OH", ()),
    ("Okla.", "Oklahoma", "OK", ()),
    ("Ore.", "Oregon", "OR", ("Oreg.",)),
    ("Pa.", "Pennsylvania", "PA", ("Penn.", "Penna.")),
    ("R.I.", "Rhode Island", "RI", ()),
    ("S.C.", "South Carolina", "SC", ()),
    ("S.D.", "South Dakota", "SD", ("S.Dak.",)),
    ("Tenn.", "Tennessee", "TN", ()),
    ("Texas", "Texas", "TX", ("Tex.",)),
    ("Utah", "Utah", "UT", ()),
    ("Vt.", "Vermont", "VT", ()),
    ("Va.", "Virginia", "VA", ()),
    ("Wash.", "Washington", "WA", ()),
    ("W.Va.", "West Virginia", "WV", ()),
    ("Wis.", "Wisconsin", "WI", ("Wisc.",)),
    ("Wyo.", "Wyoming", "WY", ()),
    # Territories AP datelines name.
    ("Puerto Rico", "Puerto Rico", "PR", ("P.R.",)),
    ("Guam", "Guam", "GU", ()),
    ("U.S. Virgin Islands", "U.S. Virgin Islands", "VI", ("V.I.",)),
)
# (dateline form, abbreviations): AP spells the province out in datelines.
_CANADIAN_PROVINCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Alberta", ("Alta.", "AB")),
    ("British Columbia", ("B.C.", "BC")),
    ("Manitoba", ("Man.", "MB")),
    ("New Brunswick", ("N.B.", "NB")),
    ("Newfoundland", ("Nfld.", "NL", "Newfoundland and Labrador")),
    ("Nova Scotia", ("N.S.", "NS")),
    ("Ontario", ("Ont.", "ON")),
    ("Prince Edward Island", ("P.E.I.", "PE")),
    ("Quebec", ("Que.", "QC", "Québec")),
    ("Saskatchewan", ("Sask.", "SK")),
    ("Northwest Territories", ("N.W.T.", "NT")),
    ("Yukon", ("Y.T.", "YT")),
    ("Nunavut", ("NU",)),
)
# Countries, as wire copy names them (the 1980s ones included), and regions of them often named in datelines.
COUNTRIES = frozenset(
    name_key(name)
    for name in """
    Afghanistan|Albania|Algeria|Andorra|Angola|Antigua|Argentina|Armenia|Australia|Austria|Azerbaijan|Bahamas|
    Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bermuda|Bhutan|Bolivia|Bosnia|Bosnia and Herzegovina|
    Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burma|Burundi|Cambodia|Cameroon|Canada|Cape Verde|Cayman Islands|
    Central African Republic|Chad|Chile|China|Colombia|Comoros|Congo|Costa Rica|Croatia|Cuba|Cyprus|
    Czech Republic|Czechoslovakia|Denmark|Djibouti|Dominica|Dominican Republic|East Germany|East Timor|Ecuador|
    Egypt|El Salvador|England|Equatorial Guinea|Eritrea|Estonia|Ethiopia|Fiji|Finland|France|Gabon|Gambia|Georgia|
    Germany|Ghana|Gibraltar|Greece|Greenland|Grenada|Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|
    Hong Kong|Hungary|Iceland|India|Indonesia|Iran|Iraq|Ireland|Israel|Italy|Ivory Coast|Jamaica|Japan|Jordan|
    Kazakhstan|Kenya|Kiribati|Kosovo|Kuwait|Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia|Libya|Liechtenstein|
    Lithuania|Luxembourg|Macau|Macedonia|Madagascar|Malawi|Malaysia|Maldives|Mali|Malta|Mauritania|Mauritius|
    Mexico|Moldova|Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nauru|Nepal|Netherlands|
    New Zealand|Nicaragua|Niger|Nigeria|North Korea|Northern Ireland|Norway|Oman|Pakistan|Palestine|Panama|
    Papua New Guinea|Paraguay|Peru|Philippines|Poland|Portugal|Qatar|Romania|Russia|Rwanda|Samoa|San Marino|
    Saudi Arabia|Scotland|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|Slovakia|Slovenia|Solomon Islands|
    Somalia|South Africa|South Korea|South Sudan|Soviet Union|Spain|Sri Lanka|Sudan|Suriname|Swaziland|Sweden|
    Switzerland|Syria|Taiwan|Tajikistan|Tanzania|Thailand|Togo|Tonga|Trinidad|Trinidad and Tobago|Tunisia|
    Turkey|Turkmenistan|Uganda|Ukraine|United Arab Emirates|United Kingdom|United States|Uruguay|U.S.S.R.|
    Uzbekistan|Vanuatu|Vatican City|Venezuela|Vietnam|Wales|West Bank|West Germany|West Indies|
    British West Indies|Yemen|Yugoslavia|Zaire|Zambia|Zimbabwe|Gaza Strip|Puerto Rico|
    New South Wales|Victoria|Queensland|Tasmania|Western Australia|South Australia|Northern Territory|Bavaria|
    Sicily|Sardinia|Corsica|Crete|Kashmir|Punjab|Tibet|Kurdistan|Siberia|Scotland|Okinawa|Hokkaido
    """.replace("\n", "").split("|")
    if name.strip()
)


def _canonical_forms() -> dict[str, str]:
    forms: dict[str, str] = {}
    for ap, full, postal, others in _US_STATES:
        # "Georgia" spelled out is the country (AP datelines abbreviate the state: "ATLANTA, Ga.")
        for spelling in (ap, postal, *others) if full == "Georgia" else (ap, full, postal, *others):
            forms[name_key(spelling)] = ap
    for full, abbreviations in _CANADIAN_PROVINCES:
        for spelling in (full, *abbreviations):
            forms[name_key(spelling)] = full
    return forms


_FORMS = _canonical_forms()


@lru_cache(maxsize=10_000)
def canonical_region(text: str) -> str:
    """The stored form of a dateline's region: "CALIF." / "Calif" / "California" → "Calif.",
    "Alta." → "Alberta", "WEST GERMANY" → "West Germany"; several parts are each made canonical."""
    parts = [part.strip() for part in text.split(",") if part.strip(" .")]
    return ", ".join(_FORMS.get(name_key(part)) or display_name(part, place=True) for part in parts)


def is_known_region(text: str) -> bool:
    """True when `text` is a US state, Canadian province or country (in any of its spellings)."""
    key = name_key(text)
    return key in _FORMS or key in COUNTRIES
