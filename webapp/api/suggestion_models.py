"""The API's pydantic models for suggestions and experiments (see models.py
for the rest and the conventions)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from optimizer import experiments, suggestions
from webapp.api.models import Metadata, Request


class TitleOption(BaseModel):
    title: str = Field(examples=["Homemade Bread: The 5-Ingredient Recipe"])
    rationale: str | None = None


class Problem(BaseModel):
    field: str = Field(description="title, description or tags.")
    code: str
    message: str


class SuggestionSummary(BaseModel):
    id: int = Field(examples=[9])
    run_id: int
    video_id: int
    status: str = Field(description=f"One of {', '.join(suggestions.STATES)}.", examples=["pending"])
    engine: str = Field(description="claude, heuristic or restore.", examples=["claude"])
    title: str = Field(description="The title Apply would write.")
    created_at: datetime
    url: str = Field(examples=["/api/v1/suggestions/9"])


class SuggestionList(BaseModel):
    suggestions: list[SuggestionSummary]


class Suggestion(SuggestionSummary):
    model: str | None
    titles: list[TitleOption] = Field(description="The ranked titles; `draft.title_index` points at the chosen one.")
    draft: Metadata = Field(description="What Apply would write: the creator's edits, else the suggestion.")
    title_index: int | None = Field(description="Index into `titles`, or null for the creator's own title.")
    current: Metadata = Field(description="What the video has now.")
    problems: list[Problem] = Field(description="Why YouTube would refuse the draft; empty when it would not.")
    primary_keyword: str | None
    notes: list[str]
    apply_error: str | None
    cost_usd: float


class SuggestionEdit(Request):
    """Change the draft. Give ``title_index`` to pick a ranked title, or
    ``title`` to write your own; fields left out keep the saved draft."""

    title_index: int | None = Field(default=None, ge=0, le=20)
    title: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)
    tags: list[str] | None = Field(default=None, max_length=500)
    accept: bool = Field(default=False, description="Also accept it (ready for Apply).")

    @model_validator(mode="after")
    def _one_title(self) -> SuggestionEdit:
        if self.title_index is not None and self.title is not None:
            raise ValueError("give title_index or title, not both")
        return self


# -- experiments -----------------------------------------------------------------------


class ExperimentListQuery(Request):
    sort: str = Field(default="applied", pattern="^(applied|lift|state)$", description="applied, lift or state.")


class Experiment(BaseModel):
    id: int = Field(examples=[3])
    video_id: int
    video_title: str
    status: str = Field(description=f"One of {', '.join(experiments.STATES)}.", examples=["measuring"])
    lift: float | None = Field(description="Estimated ratio of the change's effect: 1.25 is 25 % more views.")
    confidence: float | None
    interval_low: float | None
    interval_high: float | None
    look: int = Field(description="How many weekly looks so far (8 at most).")
    applied_at: datetime
    cooling_until: date
    evaluated_at: datetime | None
    url: str = Field(examples=["/api/v1/experiments/3"])


class ExperimentList(BaseModel):
    experiments: list[Experiment]


class Evaluation(BaseModel):
    look: int
    evaluated_for: date
    outcome: str
    lift: float | None
    interval_low: float | None
    interval_high: float | None
    confidence: float | None
    metric: str = Field(examples=["engaged_views"])
    post_days: int
    controls: int = Field(description="Control videos the change was compared with.")


class ExperimentDetail(Experiment):
    channel_id: int
    metric: str
    suggestion_id: int | None
    auto_restore: str | None = Field(description="What auto-restore decided for a 'hurt' verdict, if anything.")
    evaluations: list[Evaluation]


class Restoring(BaseModel):
    suggestion_id: int = Field(description="The restore, queued for the apply job; follow it as a suggestion.")
    suggestion_url: str
