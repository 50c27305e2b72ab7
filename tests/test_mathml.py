"""latex2mathml's output rebuilt safely: text escaped, links and styles dropped, the
presentation kept. (The preview's browser tests show the result in Chromium.)"""

import re

import pytest

from generator import mathml


@pytest.mark.parametrize("latex, text", [
    (r"\text{<svg/onload=alert(1)>}", "&lt;svg/onload=alert(1)&gt;"),
    (r"\text{<img src=x onerror=alert(1)>}", "&lt;img\u00a0src=x\u00a0onerror=alert(1)&gt;"),
    (r"\textbf{</math><script>alert(1)</script>}", "&lt;/math&gt;&lt;script&gt;"),
    (r"\text{a & b}", "a\u00a0&amp;\u00a0b"),
])
def test_text_in_a_formula_stays_text(latex, text):
    out = mathml.convert(latex, display=False)
    assert text in out
    assert "<svg" not in out and "<img" not in out and "<script" not in out


@pytest.mark.parametrize("latex", [
    r"\href{javascript:alert(1)}{x}",
    r'\href{https://example.com" onclick="alert(1)}{x}',
    r"\style{background: url(https://example.com/x.png)}{x}",
    r"\class{preview-card}{x}",
])
def test_links_styles_and_classes_are_dropped(latex):
    out = mathml.convert(latex, display=True)
    assert re.findall(r"([\w:-]+)=", out) == ["xmlns", "display"], out
    assert "<mi>x</mi>" in out


def test_presentation_is_kept():
    out = mathml.convert(r"\mathrm{dx} \left(\frac{a}{b}\right) \begin{array}{c|c}1&2"
                         r"\end{array} \color{red}{y}", display=False)
    assert '<mi mathvariant="normal">d</mi><mi mathvariant="normal">x</mi>' in out
    assert '<mtable columnlines="solid"><mtr><mtd columnalign="center">' in out
    assert '<mo stretchy="true" fence="true" form="prefix">(</mo>' in out
    assert '<mstyle mathcolor="red">' in out
    out = mathml.convert(r'\color{red" onload="alert(1)}{y}', display=False)
    assert '<mstyle mathcolor="red&quot; onload=&quot;alert(1)">' in out


def test_unknown_commands_still_fall_back():
    assert mathml.convert(r"\unknownmacro{x}", display=False) is None
