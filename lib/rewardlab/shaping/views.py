"""Views of token credit: an HTML heat-map (:func:`credit_html`), the rewards of several shapes over one
response (:func:`plot_token_credit`), and an ipywidgets explorer: pick a response or type one, choose a
method, look.

    explorer = AttributionExplorer(reward_model, tokenizer, prompts, responses)
    explorer          # in a notebook cell: renders the controls and the heat-map

The heat-map is :func:`credit_html` of the chosen method's token rewards (they
sum to the reward shown above it); "gold credit" shows the gold judge's ground-truth word
credit instead. Bad input (an empty response, one too long for the reward model) is shown as a
message in the view, never raised inside the widget callback. Results are cached per
(prompt, response, method), so switching back and forth is instant.
"""

from __future__ import annotations

import html
from typing import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.colors import LinearSegmentedColormap

from rewardlab.core.judges import VaderJudge
from rewardlab.shaping.attribution import METHODS, attribute

GOLD = "gold credit"
TYPED = -1


def credit_html(words: list[str], credit, scale: float | None = None) -> str:
    """Inline HTML of ``words`` shaded by ``credit`` (red negative, green positive, white zero)."""
    credit = np.asarray(credit, dtype=float)
    scale = scale or float(np.abs(credit).max() or 1.0)
    spans = []
    for word, value in zip(words, credit):
        alpha = min(1.0, abs(value) / scale)
        rgb = "0,158,115" if value > 0 else "213,94,0"
        spans.append(f'<span title="{value:+.3f}" style="background: rgba({rgb},{alpha:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(word)}</span>')
    return '<div style="line-height: 1.9; font-family: monospace">' + " ".join(spans) + "</div>"


def plot_token_credit(words: list[str], rows: dict[str, "np.ndarray"], ax=None, words_per_line: int = 24):
    """Token heat-map: one row per method, one cell per word, each row scaled to its own max |value|.

    Red is negative credit, green positive (the colours of :func:`credit_html`). Long responses
    wrap every ``words_per_line`` words into a new block of rows.
    """
    cmap = LinearSegmentedColormap.from_list("credit", [(0.835, 0.369, 0.0), (1, 1, 1), (0.0, 0.62, 0.451)])
    names = list(rows)
    scaled = np.array([np.asarray(rows[n], float) / (np.abs(rows[n]).max() or 1.0) for n in names])
    blocks = [(start, min(start + words_per_line, len(words))) for start in range(0, len(words), words_per_line)]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.62 * min(len(words), words_per_line) + 1.5,
                                      0.42 * (len(names) + 1.2) * len(blocks) + 0.3))
    for b, (start, stop) in enumerate(blocks):
        top = b * (len(names) + 1.2)
        for r, name in enumerate(names):
            y = top + r
            for c in range(start, stop):
                ax.add_patch(plt.Rectangle((c - start, y), 1, 1, color=cmap((scaled[r, c] + 1) / 2), ec="white"))
            ax.text(-0.2, y + 0.5, name, ha="right", va="center", fontsize=8)
        for c in range(start, stop):
            ax.text(c - start + 0.5, top + len(names) + 0.05, words[c], rotation=60, ha="right", va="top", fontsize=8)
    ax.set_xlim(0, min(len(words), words_per_line))
    ax.set_ylim(len(blocks) * (len(names) + 1.2) + 0.6, 0)
    ax.axis("off")
    return ax



class AttributionExplorer:
    """Controls (response picker, prompt and response boxes, method) above an HTML heat-map."""

    def __init__(self, model, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                 methods: Sequence[str] = METHODS, gold_credit: Callable[[str], np.ndarray] | None = None,
                 max_evals: int = 512, num_samples: int = 512, seed: int = 0):
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
            label = f"gold score = {reward:+.3f}; the word credits sum to it"
        else:
            label = f"reward R(x, y) = {reward:+.3f}; the {method} token rewards sum to it"
        self.view.value = f"<p><b>{html.escape(label)}</b></p>" + credit_html(tokens, credit)

    def _ipython_display_(self) -> None:
        display(self.box)
