"""Each connector's configuration, as its users read it, agrees with its validate_configuration(), checked the same
way for every connector that exists.

The truth is what ``validate_configuration()`` reads: every ``config.<reader>(configuration, key, default=...,
minimum=..., maximum=...)`` call is recorded while it validates the template with only its required keys filled
in (the sandbox fake's values). Against that, in ``configuration_form()``, the connector's README (its table with
a Key and a Default column), its ``configuration.json`` and the root README:

- keys: the form, the template and the README table hold exactly the keys read; the form's and the README's
  required keys are those read as required, the form's password fields those read as secrets;
- defaults: a number is stated in the form field's description, in the README's Default cell (and no other number
  there) and as the template's ``DEFAULT_<n>``; true/false in the toggle's description, the Default cell and the
  template; a date or a choice in the form field, the Default cell and the template; a URL in the form field and
  the README; a list of every option as "all" in the form and the Default cell; a "default 3" in a description
  is the code's;
- ranges: the README row of a key read with a minimum and a maximum states both; every range stated for a key
  ("0 to 365", "1-100", ``1_TO_500``, an error example "expected an integer from 1 to 500") is the code's;
- template: a required key's placeholder is rejected naming the key; an optional key's ``<OPTIONAL_...>`` reads as
  its default;
- form values: every placeholder and dropdown value is accepted as its key's value, but a placeholder that is a
  phrase without a number ("all history", "your API key"): that is a hint, not a value; a dropdown offers exactly
  the options the code accepts;
- the README's table of the setup form quotes the form's placeholders, and the numbers of its descriptions;
- tables: the root README's row names exactly the tables ``schema()`` declares, the connector's README names each,
  and a count ("all six reports") or an enumeration of three or more tables in a form text, ``connector.py`` or
  the README names all of them.
"""

import functools
import json
import re
from dataclasses import dataclass
from datetime import date

import pytest

from sandbox import registry
from shared import config
from tests.harness import ROOT, existing_connectors, load_connector, secret_keys

CONNECTORS = [name for name in existing_connectors() if name in registry.available()]
READERS = ("text", "integer", "number", "boolean", "day", "choice", "items", "url")
NUMBER_WORDS = {word: n for n, word in enumerate(
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"), start=1)}
NUMBER = r"(?<![\w.-])(\d+(?:\.\d+)?)(?![\w-]|\.\d)"  # a number on its own: not 1 of "OAuth2", 2025-01 of a date
RANGE = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?)\s*(?:-|–|\bto\b)\s*(\d+(?:\.\d+)?)(?![\w-]|\.\d)", re.I)  # "1-100"
STATED_DEFAULT = re.compile(r"\bdefault\W{0,3}" + NUMBER, re.I)  # "Default 3", "default: 30"
ERROR_EXAMPLE = re.compile(r"configuration key '(\w+)': expected an? (?:integer|number) from " + NUMBER + " to "
                           + NUMBER)


@dataclass
class Read:
    """One ``config.<reader>(configuration, key, *args, **kwargs)`` call made by validate_configuration()."""
    reader: str
    key: str
    args: tuple
    kwargs: dict

    def read(self, value):
        """``value`` read the way validate_configuration reads this key (its reader alone, no rule across keys)."""
        return getattr(config, self.reader)({self.key: value}, self.key, *self.args, **self.kwargs)

    @property
    def default(self):
        return self.kwargs.get("default")

    @property
    def options(self) -> tuple:
        return tuple(self.args[0] if self.reader == "choice" else self.kwargs.get("options") or ())

    @property
    def bounds(self) -> tuple:
        return self.kwargs.get("minimum"), self.kwargs.get("maximum")


@dataclass
class Row:
    """A row of the README's configuration table."""
    line: int
    cells: dict  # by lower-cased column header
    text: str


@dataclass
class Docs:
    name: str
    module: object
    required_only: dict  # the template's required keys (and one sign-in mode), with the fake's values
    reads: dict  # key -> Read
    form: dict  # key -> FormField
    template: dict
    readme: str
    rows: dict  # key -> Row
    tables: list

    def where(self, key: str) -> str:
        row = self.rows.get(key)
        return f"{self.name}/README.md:{row.line}" if row else f"{self.name}/README.md (no row)"


def recorded_reads(module, configuration: dict) -> dict:
    """The config reader calls one validate_configuration(configuration) makes, by key (the first call of each)."""
    reads: dict[str, Read] = {}
    originals = {name: getattr(config, name) for name in READERS}

    def recording(reader: str):
        def read(configuration, key, *args, **kwargs):
            reads.setdefault(key, Read(reader, key, args, kwargs))
            return originals[reader](configuration, key, *args, **kwargs)
        return read

    try:
        for name in READERS:
            setattr(config, name, recording(name))
        module.validate_configuration(configuration)
    finally:
        for name, original in originals.items():
            setattr(config, name, original)
    return reads


def table_rows(text: str):
    """(line number, {header: cell}) for every body row of every Markdown table (escaped pipes kept in cells)."""
    header = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = [cell.lower() for cell in cells]
        elif not all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
            yield number, dict(zip(header, cells, strict=False)), line


def config_rows(readme: str) -> dict:
    """The README's configuration table(s), the ones with a Key and a Default column: a row for each `key` named."""
    rows = {}
    for number, cells, line in table_rows(readme):
        if "key" in cells and "default" in cells:
            for key in re.findall(r"`([^`]+)`", cells["key"]):
                rows[key] = Row(number, cells, line)
    return rows


@functools.cache
def documented(name: str) -> Docs:
    module = load_connector(name)
    template = json.loads((ROOT / name / "configuration.json").read_text())
    credentials = set(secret_keys(module))
    fake = registry.make_fake(name).configuration("http://127.0.0.1:1")
    required_only = {key: value for key, value in fake.items()
                     if not template.get(key, "").upper().startswith("<OPTIONAL") or key in credentials}
    readme = (ROOT / name / "README.md").read_text()
    return Docs(name, module, required_only, recorded_reads(module, required_only),
                {field.name: field for field in module.configuration_form().to_response().fields}, template,
                readme, config_rows(readme), [table["table"] for table in module.schema({})])


def spelled(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def numbers(text: str) -> set[float]:
    """The numbers in a text, those of its ranges ("0-365") included."""
    return {float(n) for n in re.findall(NUMBER, text or "")} | {n for pair in ranges(text) for n in pair}


def ranges(text: str) -> set[tuple[float, float]]:
    return {(float(low), float(high)) for low, high in RANGE.findall(text or "")}


def form_text(field) -> str:
    return " ".join(filter(None, [field.description, field.placeholder]))


def says_default(text: str, value: bool) -> bool:
    """A toggle's description states its default: "Default on", "On (default)", "default: true"."""
    word = "(?:on|true|enabled)" if value else "(?:off|false|disabled)"
    return bool(re.search(rf"\bdefault\W{{0,3}}{word}\b|\b{word}\W{{0,3}}\(default\)", text or "", re.I))


def template_default(template_value: str) -> str:
    """The text after DEFAULT_ in an ``<OPTIONAL_..._DEFAULT_x>`` placeholder ('' if there is none)."""
    found = re.search(r"DEFAULT_(.*?)>?\s*$", template_value or "", re.I)
    return found.group(1) if found else ""


def is_a_phrase(value: str) -> bool:
    """Words without a number ("all history", "your API key"): a hint shown in an empty field, not a value."""
    return bool(re.search(r"\s", value)) and not numbers(value)


def rejection(docs: Docs, key: str, value: str) -> str | None:
    """Why validate_configuration refuses ``value`` for ``key`` (with the required keys filled in), or None.

    A refusal by a rule across keys (two sign-in modes at once) is not the value's: then its own reader decides."""
    try:
        docs.module.validate_configuration({**docs.required_only, key: value})
        return None
    except config.ConfigError as error:
        if str(error).startswith(f"configuration key '{key}'") or key not in docs.reads:
            return str(error)
        try:
            docs.reads[key].read(value)
            return None
        except config.ConfigError as own:
            return str(own)


@pytest.fixture(params=CONNECTORS)
def docs(request) -> Docs:
    return documented(request.param)


def test_every_connector_is_checked():
    assert CONNECTORS and set(CONNECTORS) == set(existing_connectors()), "a connector without a sandbox fake"


def test_the_form_the_template_and_the_readme_hold_exactly_the_keys_validate_configuration_reads(docs):
    read = set(docs.reads)
    assert read, "validate_configuration read no key through shared.config"
    problems = []
    for place, keys in ((f"{docs.name}/connector.py configuration_form()", set(docs.form)),
                        (f"{docs.name}/configuration.json", set(docs.template)),
                        (f"{docs.name}/README.md configuration table", set(docs.rows))):
        if read - keys:
            problems.append(f"{place} lacks {sorted(read - keys)}")
        if keys - read:
            problems.append(f"{place} has {sorted(keys - read)}, which validate_configuration never reads")
    assert not problems, "\n".join(problems)


def test_required_and_password_fields_are_the_keys_read_as_required_and_secret(docs):
    required = {key for key, read in docs.reads.items() if read.kwargs.get("required")}
    secret = {key for key, read in docs.reads.items() if read.kwargs.get("secret")}
    form_required = {key for key, field in docs.form.items() if field.required}
    readme_required = {key for key, row in docs.rows.items() if row.cells.get("required", "").startswith("yes")}
    passwords = set(secret_keys(docs.module))
    problems = [f"{place}: {sorted(have)} required, the code requires {sorted(required)}"
                for place, have in (("form", form_required), ("README", readme_required)) if have != required]
    if passwords != secret:
        problems.append(f"form password fields {sorted(passwords)}, the code reads {sorted(secret)} as secrets")
    assert not problems, "\n".join(problems)


def test_every_default_is_stated_in_the_form_the_readme_and_the_template(docs):
    problems = []
    for key, read in docs.reads.items():
        default, field, row = read.default, docs.form.get(key), docs.rows.get(key)
        if default is None or field is None or row is None or key not in docs.template:
            continue  # no default (a key missing somewhere fails the first test)
        description, cell, template = field.description or "", row.cells["default"], docs.template[key]
        text = spelled(default)
        in_form, in_cell = f"the form's description of {key} ({description!r})", f"{docs.where(key)} ({cell!r})"
        in_template = f"configuration.json ({template!r})"
        if isinstance(default, bool):
            checks = [(says_default(description, default), in_form), (f"`{text}`" in cell, in_cell),
                      (template_default(template).lower() == text, in_template)]
        elif isinstance(default, (int, float)):
            checks = [(float(default) in numbers(description), in_form), (numbers(cell) == {float(default)}, in_cell),
                      (template_default(template) == text, in_template)]
            checks += [(False, f"{in_form}, which says 'default {spelled(float(n))}'")
                       for n in STATED_DEFAULT.findall(description) if float(n) != float(default)]
        elif isinstance(default, (list, tuple)):  # a list of options: "all" when it is every one of them
            every = set(default) == set(read.options)
            checks = [(not every or re.search(r"\ball\b", description, re.I), in_form),
                      (not every or re.search(r"\ball\b", cell, re.I), in_cell),
                      (all(option in row.text for option in read.options), f"{docs.where(key)} (every option)"),
                      (all(item in template_default(template) for item in default), in_template)]
        elif read.reader == "url":  # may be derived from another key (a region): stated somewhere in the README
            checks = [(text in form_text(field), f"the form's field {key} ({form_text(field)!r})"),
                      (text in docs.readme, f"{docs.name}/README.md")]
        else:  # a date, a choice
            checks = [(text in form_text(field), f"the form's field {key} ({form_text(field)!r})"),
                      (text in cell, in_cell), (template_default(template).lower() == text.lower(), in_template)]
        problems += [f"{key}: validate_configuration's default is {text!r}, not stated by {place}"
                     for ok, place in checks if not ok]
    assert not problems, "\n".join(problems)


def test_every_range_stated_for_a_key_is_the_codes_and_the_readme_states_it(docs):
    problems = []
    for key, read in docs.reads.items():
        if read.reader not in ("integer", "number"):
            continue
        low, high = read.bounds
        code = tuple(None if n is None else float(n) for n in (low, high))
        row, field = docs.rows.get(key), docs.form.get(key)
        about_it = [(f"{docs.name}/README.md:{line}", text) for line, cells, text in table_rows(docs.readme)
                    if fields_named(docs, cells, skip="") == [key] or (row and line == row.line)]
        places = [*about_it,
                  (f"form description of {key}", field.description if field else ""),
                  (f"configuration.json {key}", docs.template.get(key, "").replace("_", " "))]
        for place, text in places:
            problems += [f"{key}: {place} states {spelled(a)} to {spelled(b)}, the code accepts "
                         f"{spelled(low)} to {spelled(high)}" for a, b in ranges(text) if (a, b) != code]
        if row and low is not None and high is not None and code not in ranges(row.text):
            problems.append(f"{key}: {docs.where(key)} does not state its range ({spelled(low)} to {spelled(high)})")
    for key, a, b in ERROR_EXAMPLE.findall(docs.readme):
        bounds = docs.reads[key].bounds if key in docs.reads else (None, None)
        if key in docs.reads and (float(a), float(b)) != tuple(None if n is None else float(n) for n in bounds):
            problems.append(f"{key}: {docs.name}/README.md quotes the error 'expected ... from {a} to {b}', the code "
                            f"accepts {spelled(bounds[0])} to {spelled(bounds[1])}")
    assert not problems, "\n".join(problems)


def test_the_templates_placeholders_are_rejected_or_read_as_the_default(docs):
    problems = []
    for key, value in docs.template.items():
        read = docs.reads.get(key)
        if not config.is_placeholder(value):
            problems.append(f"configuration.json {key}: {value!r} is not a template placeholder")
        elif value.strip().upper().startswith("<OPTIONAL"):
            if read is not None and read.kwargs.get("required"):
                problems.append(f"configuration.json {key}: {value!r} marks a required key optional")
            elif read is not None and read.read(value) != read.read(None):
                problems.append(f"configuration.json {key}: {value!r} is read as {read.read(value)!r}, not as "
                                f"the default {read.read(None)!r}")
        else:
            why = rejection(docs, key, value)
            if why is None or "placeholder" not in why or f"'{key}'" not in why:
                problems.append(f"configuration.json {key}: {value!r} is not rejected as a placeholder ({why})")
    assert not problems, "\n".join(problems)


def test_every_form_placeholder_and_dropdown_value_is_accepted_as_its_keys_value(docs):
    problems = []
    for key, field in docs.form.items():
        offered = [option.value for option in field.dropdown_options or []]
        for value, what in [(field.placeholder, "placeholder")] + [(v, "dropdown value") for v in offered]:
            if not value or (what == "placeholder" and is_a_phrase(value)):
                continue
            why = rejection(docs, key, value)
            if why is not None:
                problems.append(f"form {key}: the {what} {value!r} is refused: {why}")
        read = docs.reads.get(key)
        if offered and read is not None and read.options:
            chosen = {item.strip() for value in offered for item in value.split(",")}
            if chosen != set(read.options):
                problems.append(f"form {key}: the dropdown offers {sorted(chosen)}, the code accepts "
                                f"{sorted(read.options)}")
    assert not problems, "\n".join(problems)


def fields_named(docs: Docs, cells: dict, skip: str) -> list[str]:
    """The form fields a README row is about, in order: its `key`s, else the form labels its first cell lists."""
    named = [key for header, cell in cells.items() if header != skip
             for key in re.findall(r"`([^`]+)`", cell) if key in docs.form]
    if not named and cells:
        labels = {field.label: key for key, field in docs.form.items()}
        named = [labels[part.strip()] for part in re.split(r"[,/]", next(iter(cells.values())))
                 if part.strip() in labels]
    return list(dict.fromkeys(named))


def test_the_readmes_setup_form_table_shows_the_forms_placeholders_and_descriptions(docs):
    """A README row about form fields that quotes their placeholders (a Placeholder column, or "placeholder `x`")
    quotes the form's, in order; one that shows a field's description states the same numbers."""
    problems = []
    for line, cells, text in table_rows(docs.readme):
        if "default" in cells:
            continue  # the configuration table
        keys = fields_named(docs, cells, skip="placeholder")
        quoted = cells.get("placeholder") or " ".join(re.findall(r"placeholder (`[^`]*`)", text))
        shown = re.findall(r"`([^`]*)`", quoted) or ([quoted.strip()] if quoted.strip() else [])
        if shown and len(shown) == len(keys):
            for key, value in zip(keys, shown, strict=True):
                prose = is_a_phrase(value) and f"`{value}`" not in quoted  # e.g. "the us2 default"
                if value != (docs.form[key].placeholder or "") and not prose:
                    problems.append(f"{docs.name}/README.md:{line} shows the placeholder of {key} as {value!r}, "
                                    f"the form has {docs.form[key].placeholder!r}")
        described = docs.form[keys[0]].description if len(keys) == 1 else None
        for header, cell in cells.items():
            if described is not None and "description" in header and numbers(cell) != numbers(described):
                problems.append(f"{docs.name}/README.md:{line} shows the description of {keys[0]} with the numbers "
                                f"{sorted(numbers(cell))}, the form's has {sorted(numbers(described))}")
    assert not problems, "\n".join(problems)


def test_the_readmes_name_exactly_the_tables_schema_declares(docs):
    problems = []
    rows = [cells for _, cells, _ in table_rows((ROOT / "README.md").read_text())
            if f"`{docs.name}/`" in next(iter(cells.values()), "") and "tables" in cells]
    if len(rows) != 1:
        problems.append(f"README.md has {len(rows)} rows for {docs.name}/ with a Tables column")
    for cells in rows:
        named = {name.strip(" `") for name in cells["tables"].split(",")}
        if named != set(docs.tables):
            problems.append(f"README.md names {sorted(named)} for {docs.name}, schema() declares {sorted(docs.tables)}")
    problems += [f"{docs.name}/README.md never names `{table}`" for table in docs.tables
                 if f"`{table}`" not in docs.readme]
    assert not problems, "\n".join(problems)


def test_every_count_or_list_of_the_tables_names_all_of_them(docs):
    """A prose list of tables ("organizations, products and projects", "All six reports") in a form text, a hint
    or the README: a table added or removed in schema() and not there shows here."""
    form_texts = [text for field in docs.form.values()
                  for text in (field.label, field.description, field.placeholder,
                               *(option.label for option in field.dropdown_options or []))]
    sources = {"form": " ".join(filter(None, form_texts)),
               f"{docs.name}/connector.py": (ROOT / docs.name / "connector.py").read_text(),
               f"{docs.name}/README.md": docs.readme}
    name = r"`?(?<!\w)(?:" + "|".join(map(re.escape, sorted(docs.tables, key=len, reverse=True))) + r")(?!\w)`?"
    enumeration = re.compile(rf"{name}(?:(?:\s*[,/]\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+){name}){{2,}}")
    words = "|".join(word for word, n in NUMBER_WORDS.items() if n > 1)
    count = re.compile(rf"\b({words}) (?:report types|reports|tables)\b", re.I)
    count_in_form = re.compile(rf"\ball ({words})\b", re.I)  # "Default: all six."
    problems = []
    for place, text in sources.items():
        flat = re.sub(r"\s+", " ", text)
        for match in enumeration.finditer(flat):
            named = set(re.findall(r"\w+", match.group(0))) & set(docs.tables)
            if named != set(docs.tables):
                problems.append(f"{place}: {match.group(0)!r} leaves out {sorted(set(docs.tables) - named)}")
        for match in [*count.finditer(flat), *(count_in_form.finditer(flat) if place == "form" else ())]:
            said = NUMBER_WORDS[match.group(1).lower()]
            if said != len(docs.tables):
                problems.append(f"{place}: {match.group(0)!r}, but schema() declares {len(docs.tables)} tables")
    assert not problems, "\n".join(problems)
