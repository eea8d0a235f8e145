"""An ipywidgets explorer of token credit: pick a response or type one, choose a method, look.

    explorer = AttributionExplorer(reward_model, tokenizer, prompts, responses)
    explorer          # in a notebook cell: renders the controls and the heat-map

The heat-map is :func:`rewardlab.plots.credit_html` of the chosen method's token rewards (they
sum to the reward shown above it); "gold credit" shows the gold judge's ground-truth word
credit instead. Bad input (an empty response, one too long for the reward model) is shown as a
message in the view, never raised inside the widget callback. Results are cached per
(prompt, response, method), so switching back and forth is instant.
"""

from __future__ import annotations

import html
from typing import Callable, Sequence

import numpy as np

from .attribution import METHODS, attribute
from .plots import credit_html

GOLD = "gold credit"
TYPED = -1


class AttributionExplorer:
    """Controls (response picker, prompt and response boxes, method) above an HTML heat-map."""

    def __init__(self, model, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                 methods: Sequence[str] = METHODS, gold_credit: Callable[[str], np.ndarray] | None = None,
                 max_evals: int = 512, num_samples: int = 512, seed: int = 0):
        import ipywidgets as widgets

        if len(prompts) != len(responses) or not len(prompts):
            raise ValueError(f"pass one prompt per response and at least one pair (got {len(prompts)} prompts, "
                             f"{len(responses)} responses)")
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        self.model, self.tokenizer, self.gold_credit = model, tokenizer, gold_credit
        self.options = {"max_evals": max_evals, "num_samples": num_samples, "seed": seed}
        self.pairs = list(zip(prompts, responses))
        self._cache: dict[tuple[str, str, str], tuple[list[str], np.ndarray, float]] = {}
        labels = [(f"{i}: {p} | {r[:48]}{'…' if len(r) > 48 else ''}", i) for i, (p, r) in enumerate(self.pairs)]
        self.choice = widgets.Dropdown(options=labels + [("type your own…", TYPED)], value=0, description="response",
                                       layout=widgets.Layout(width="95%"))
        self.prompt = widgets.Text(value=prompts[0], description="prompt", continuous_update=False,
                                   layout=widgets.Layout(width="95%"))
        self.response = widgets.Textarea(value=responses[0], description="response", continuous_update=False,
                                         layout=widgets.Layout(width="95%", height="4em"))
        self.method = widgets.ToggleButtons(options=list(methods) + ([GOLD] if gold_credit else []),
                                            value=methods[0], description="method")
        self.view = widgets.HTML()
        self.box = widgets.VBox([self.choice, self.prompt, self.response, self.method, self.view])
        self._filling = False  # True while a picked pair fills the boxes: render once, not per box
        self.choice.observe(self._on_choice, names="value")
        for control in (self.prompt, self.response, self.method):
            control.observe(lambda _change: None if self._filling else self.render(), names="value")
        self.render()

    def _on_choice(self, change) -> None:
        if change["new"] == TYPED:
            return
        prompt, response = self.pairs[change["new"]]
        self._filling = True
        try:
            self.prompt.value, self.response.value = prompt, response
        finally:
            self._filling = False
        self.render()

    def credit(self, prompt: str, response: str, method: str) -> tuple[list[str], np.ndarray, float]:
        """(tokens, credit per token, reward) for one pair; raises ValueError on bad input."""
        key = (prompt, response, method)
        if key not in self._cache:
            if method == GOLD:
                from .judges import VaderJudge

                words = response.split()
                if not words:
                    raise ValueError("the response is empty; type a few words")
                self._cache[key] = (words, self.gold_credit(response), float(VaderJudge()([response])[0]))
            else:
                result = attribute(method, self.model, self.tokenizer, [prompt], [response], **self.options)[0]
                self._cache[key] = (result.tokens, result.token_rewards, result.reward)
        return self._cache[key]

    def render(self) -> None:
        method = self.method.value
        try:
            tokens, credit, reward = self.credit(self.prompt.value, self.response.value, method)
        except ValueError as error:
            self.view.value = f'<p style="color: #b00">{html.escape(str(error))}</p>'
            return
        if method == GOLD:
            label = f"gold score (VADER compound) = {reward:+.3f}; the word credits sum to it"
        else:
            label = f"reward R(x, y) = {reward:+.3f}; the {method} token rewards sum to it"
        self.view.value = f"<p><b>{html.escape(label)}</b></p>" + credit_html(tokens, credit)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
