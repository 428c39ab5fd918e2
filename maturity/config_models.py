"""Typed shapes of every file in config/, checked when read: a missing or misspelt key is one clear line.

`maturity/settings.py` reads each file once and returns these; the code reads attributes, never dict keys,
so a renamed key fails when config is read, not deep inside a run.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ConfigModel(BaseModel):
    """A config section: immutable, and no keys beyond those declared (a typo is an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# config/method.yaml (the sections read as plain values; maturity, statements and weighting have
# dataclasses in settings.py)
class DisclosureRules(ConfigModel):
    min_valid_answers: int
    protection_interval: int
    larger_rows_beside_small: int
    withheld_status: str


class ComparisonRules(ConfigModel):
    false_discovery_rate: float


class PublicationRules(ConfigModel):
    percent_decimals: int
    level_decimals: int
    probability_decimals: int
    p_value_decimals: int
    base_decimals: int


class SurveyQuestion(ConfigModel):
    id: str
    text_en: str


class SurveyWeighting(ConfigModel):
    margins: tuple[str, ...]
    tolerance: float
    max_iterations: int
    warn_above_mean_ratio: float


class PublicSurveyRules(ConfigModel):
    answers: tuple[str, ...]
    age_bands: tuple[str, ...]
    sexes: tuple[str, ...]
    yes_answer: str
    dont_know_answer: str
    confidence_level: float
    weighting: SurveyWeighting
    questions: tuple[SurveyQuestion, ...]

    @property
    def question_ids(self) -> list[str]:
        return [question.id for question in self.questions]


class ResponseRules(ConfigModel):
    level_answers: tuple[str, ...]
    statement_answers: tuple[str, ...]
    dont_know: str
    identity_columns: tuple[str, ...]
    identity_column_patterns: tuple[str, ...]
    pseudonym_key_env: str
    pseudonym_key_min_chars: int
    max_comment_chars: int


class InputRules(ConfigModel):
    formats: dict[str, str]
    unsupported_formats: dict[str, str]
    legacy_encodings: tuple[str, ...]
    timezone: str
    delimiters: tuple[str, ...]
    sql_tables: dict[str, str]


class OutputRules(ConfigModel):
    formula_prefixes: tuple[str, ...]
    quarantine_value_chars: int
    cells_named_in_a_warning: int


# config/framework.yaml statements (read into settings.Statement)
class FrameworkStatement(ConfigModel):
    id: str
    theme: str
    text_en: str
    short_en: str
    higher_is_better: bool = True
    waves: tuple[str, ...] | None = Field(default=None, min_length=1)  # None: asked in every wave


class FrameworkStatements(ConfigModel):
    statements: tuple[FrameworkStatement, ...]


# config/comparability.yaml
class ItemComparability(ConfigModel):
    """How one kind of item (characteristics or statements) of a later wave lines up with an earlier one's."""

    mapped: dict[str, str] = {}  # later id: earlier id it continues (reworded, same meaning)
    not_comparable: dict[str, str] = {}  # id asked in both waves: reason code (`reasons`)
    new: tuple[str, ...] = ()  # asked in the later wave only, continuing nothing
    dropped: tuple[str, ...] = ()  # asked in the earlier wave only, continued by nothing


class DeclaredComparison(ConfigModel):
    """One pair of waves as config/comparability.yaml declares it (checked against the framework)."""

    earlier: str
    later: str
    characteristics: ItemComparability = ItemComparability()
    statements: ItemComparability = ItemComparability()


class Comparability(ConfigModel):
    reasons: dict[str, str] = Field(min_length=1)  # reason code: English wording (translated for reports)
    comparisons: tuple[DeclaredComparison, ...]


# config/limits.yaml
class MessageLimits(ConfigModel):
    column_name_shown: str
    column_names_shown: int


class InputLimits(ConfigModel):
    max_file_bytes: int
    max_study_yaml_bytes: int
    max_quotes_approved_bytes: int
    max_commentary_bytes: int
    max_yaml_depth: int
    max_yaml_aliases: int
    max_line_chars: int
    max_cell_chars: int
    max_columns: int
    max_number_digits: int
    allowed_control_characters: tuple[str, ...]
    utf16_min_nul_share: float
    max_failing_rows_per_check: int


class Limits(ConfigModel):
    path_values: dict[str, str]
    messages: MessageLimits
    inputs: InputLimits


# config/orchestration.yaml
class TaskRunners(ConfigModel):
    choices: tuple[str, ...]
    default: str
    workers: int | None
    dask_threads_per_worker: int


class Retries(ConfigModel):
    attempts: int
    backoff_factor: float


class ProgressStage(ConfigModel):
    name: str
    tasks: tuple[str, ...]


class Progress(ConfigModel):
    stages: tuple[ProgressStage, ...]


class Orchestration(ConfigModel):
    task_runners: TaskRunners
    local_run_heartbeats: bool
    temporary_server_startup_seconds: float
    server_lost_seconds: float
    server_watch_seconds: float
    retries: Retries
    artifacts: dict[str, str]
    progress: Progress


# config/operations.yaml
class CliRules(ConfigModel):
    max_quarantined_share: float


class ServeSettings(ConfigModel):
    host: str
    port: int
    files_port: int
    out: str
    start_timeout_seconds: float
    health_poll_seconds: float
    stop_timeout_seconds: float
    interrupt_grace_seconds: float
    watch_seconds: float
    warm_worker: bool
    warm_probe_seconds: float
    warm_rerun_timeout_seconds: float


class Operations(ConfigModel):
    cli: CliRules
    serve: ServeSettings


# config/open_data.yaml
class Licence(ConfigModel):
    name: str
    title: str
    path: str


class Publisher(ConfigModel):
    name: str


class DataSource(ConfigModel):
    title: str
    path: str | None = None


class OpenDataSettings(ConfigModel):
    name: str
    title_en: str
    title_cy: str
    description_en: str
    publisher: Publisher
    licence: Licence
    sources: tuple[DataSource, ...]
    release_dates: dict[str, str]
    first_release_number: int
    changes_listed: int
    formats: tuple[str, ...]
    missing_values: tuple[str, ...]
    tables: tuple[str, ...]
    wave_change_tables: tuple[str, ...]  # only in a release whose wave has an earlier wave to compare


# config/publication.yaml
# An https address with a host and nothing after the path: no query, fragment or credentials.
HTTPS_URL = r"https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%/-]*)?"
EMAIL_ADDRESS = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"


class PublicationSettings(ConfigModel):
    publisher_en: str = Field(min_length=1)
    publisher_cy: str = Field(min_length=1)
    contact_email: str = Field(pattern=f"^{EMAIL_ADDRESS}$")
    publication_dates: dict[str, date]
    base_url: str | None = Field(default=None, pattern=f"^{HTTPS_URL}$")
    methodology_url: str | None = Field(default=None, pattern=f"^{HTTPS_URL}$")

    @field_validator("base_url")
    @classmethod
    def _ends_in_slash(cls, value: str | None) -> str | None:
        """The site root as a folder, so relative paths join under it rather than beside it."""
        return None if value is None else value.rstrip("/") + "/"


# config/comments.yaml and config/names.yaml
class SpelledDigits(ConfigModel):
    words: dict[int, tuple[str, ...]]  # how many digits a word stands for at most: its words
    repeats: dict[str, int]  # "double": digits it adds to the word after it
    leading: tuple[str, ...]  # words for the 0 a UK number starts with: a run is read from the first
    leading_when_followed: tuple[str, ...]  # also a 0 when two single digits follow ("O seven seven")
    count_after_figures_below: int = Field(ge=1)  # "0900-1700 five days": words worth fewer digits count


class Roles(ConfigModel):
    posts: tuple[str, ...]  # named in full ("chief executive")
    posts_of: tuple[str, ...]  # named by the words after them ("head of")
    services: tuple[str, ...]  # what a post in lower case may be of ("head of ict")
    acronyms: tuple[str, ...]  # in capitals only ("SIRO")
    capitalised: tuple[str, ...]  # one capitalised word, after a determiner ("the Leader")
    lower_case: tuple[str, ...]  # of those, the ones in lower case too ("the leader")
    lower_case_not_before: tuple[str, ...]  # "board": "the leader board" is no post
    lower_case_not_after: tuple[str, ...]  # "follow the": "follow the leader" is no post
    managing: tuple[str, ...]  # "manager": a post named by the service managed ("the ICT Manager")
    managing_not_before: tuple[str, ...]  # "app": "the Data Manager app" is software
    one_word_not_before: tuple[str, ...]  # "programme": "the LEADER programme" is a scheme
    parties: tuple[str, ...]  # "Plaid": "the Plaid Leader" is one person
    members_for: tuple[str, ...]  # "ward member for": named by the ward, place included
    members_after_place: tuple[str, ...]  # "ward member": "the Rhyl West ward member", place included
    not_places: tuple[str, ...]  # "Wales": "any member for Wales" names no ward
    posts_after_determiner: tuple[str, ...]  # "section 151": a post only after "our", "as"
    assistants: tuple[str, ...]  # "PA": "the Leader's PA" is one person
    determiners: tuple[str, ...]
    qualifiers: tuple[str, ...]  # "deputy", "acting"
    most_qualifiers: int = Field(ge=0)
    not_after: tuple[str, ...]  # "every", "an": any holder of the post
    speaking_as: tuple[str, ...]  # "as", "fel": "As an S151 officer, I" is the respondent
    connectors: tuple[str, ...]  # "and", "of": between the capitalised words of a post
    not_in_post: tuple[str, ...]  # capitalised words that end a post ("I", "Monday", "Council")
    continued_by: tuple[str, ...]  # "of": a post named in full goes on after it
    following_words: int = Field(ge=1)


class Redaction(ConfigModel):
    tokens: dict[str, str]
    patterns: dict[str, str]
    phone_region: str
    phone_min_digits: int
    spelled_digits: SpelledDigits
    roles: Roles
    titles: tuple[str, ...]
    titles_capitalised: tuple[str, ...]  # "Gynghorydd": a title only with its capital
    surname_not_before: tuple[str, ...]  # "correlation": "pearson correlation" is a method
    not_name_words: tuple[str, ...]
    person_cues: tuple[str, ...]
    capitalised_in_capitals: tuple[str, ...]  # "west": keeps its capital in a comment in capitals
    team_acronyms: tuple[str, ...]  # "ICT": after a cue, a team's, not a person's initials ("ask GJ")
    shouted_share: float = Field(gt=0, le=1)  # words in capitals that make a comment shouted
    name_particles: tuple[str, ...]
    protected_terms: tuple[str, ...]


class CommentTheme(ConfigModel):
    id: str
    name_en: str
    patterns: tuple[str, ...] = ()


class QuoteRules(ConfigModel):
    per_theme: int
    min_characters: int
    max_characters: int
    not_quotable: tuple[str, ...]


class LanguageRules(ConfigModel):
    welsh_share_at_least: float
    welsh_words: tuple[str, ...]


class NameList(ConfigModel):
    english: tuple[str, ...]
    welsh: tuple[str, ...]


class NameGazetteer(ConfigModel):
    given_names: NameList
    surnames: NameList
    ambiguous: tuple[str, ...]


class CommentRules(ConfigModel):
    redaction: Redaction
    themes: tuple[CommentTheme, ...]
    fallback_theme: CommentTheme
    report_themes: dict[str, str | None]
    language: LanguageRules
    quotes: QuoteRules
    names: NameGazetteer

    @model_validator(mode="after")
    def _every_barrier_theme_mapped(self) -> CommentRules:
        barrier = [theme.id for theme in (*self.themes, self.fallback_theme)]
        missing = [theme for theme in barrier if theme not in self.report_themes]
        unknown = [theme for theme in self.report_themes if theme not in barrier]
        if missing or unknown:
            raise ValueError(
                f"every barrier theme needs one entry (null for none); missing: {', '.join(missing) or '-'}, "
                f"not a barrier theme: {', '.join(unknown) or '-'}"
            )
        return self


# config/demo.yaml and config/demo_comments.yaml
class DemoCouncil(ConfigModel):
    population: int
    elected_members: int


class DemoFixedCounts(ConfigModel):
    officers_invited: int
    officers_responses: int
    elected_members_invited: int
    elected_members_responses: int


class RateRange(ConfigModel):
    low: float
    high: float


class Spread(ConfigModel):
    mean: float
    sd: float


class DemoMaturityChange(ConfigModel):
    """How a follow-up wave's latent maturity moves from an earlier wave's, per council x characteristic."""

    from_wave: str
    improving_share: float = Field(ge=0, le=1)
    slipping_share: float = Field(ge=0, le=1)
    improvement: Spread  # change of an improving council (levels), per characteristic
    slip: Spread  # change of a slipping council (negative mean)
    steady: Spread  # change of every other council
    fixed: dict[str, dict[str, float]] = {}  # gss_code: characteristic: change, instead of a drawn one

    @model_validator(mode="after")
    def _shares_fit(self) -> DemoMaturityChange:
        if self.improving_share + self.slipping_share > 1:
            raise ValueError("improving_share + slipping_share must be at most 1")
        return self


class DemoWave(ConfigModel):
    title: str
    title_cy: str
    fieldwork_start: str
    fieldwork_end: str
    default_seed: int
    # Councils whose invitations and responses are fixed rather than drawn.
    fixed_counts: dict[str, DemoFixedCounts] = {}
    change: DemoMaturityChange | None = None  # None: latent maturity drawn afresh (a first wave)
    commentary: bool = False  # write the auditors' commentary of config/demo_commentary/ (written for it)


class DemoSettings(ConfigModel):
    wave: str  # the wave `maturity demo` writes without --wave
    waves: dict[str, DemoWave]
    public_survey_respondents: int
    public_survey_yes_share: dict[str, float]
    public_survey_dont_know_share: float
    public_survey_age_yes_profile: dict[str, float]
    public_survey_age_population_share: dict[str, float]
    public_survey_age_sample_bias: dict[str, float]
    public_survey_female_share_population: float
    public_survey_female_share_sample: float
    councils: dict[str, DemoCouncil]
    officers_per_thousand: float
    officers_floor: int
    officer_tool_shares: dict[str, float]
    officer_response_rate: RateRange
    member_response_rate: RateRange
    maturity_base: Spread
    maturity_characteristic_shift: dict[str, float]
    answer_noise_sd: float
    members_optimism: float
    dont_know_rate: dict[str, float]
    statement_dont_know_rate: float
    comment_rate: float
    roles: dict[str, tuple[str, ...]]
    comments: dict[str, tuple[str, ...]]  # config/demo_comments.yaml: snippets per barrier theme

    @model_validator(mode="after")
    def _default_wave_known(self) -> DemoSettings:
        later = [
            w for w, spec in self.waves.items() if spec.change and spec.change.from_wave not in self.waves
        ]
        if self.wave not in self.waves or later:
            raise ValueError(
                f"wave {self.wave} must be one of waves ({', '.join(self.waves)}), "
                "and so must each change.from_wave"
            )
        return self
