"""The report's HTML as a Jinja2 template (autoescaped; charts are passed in as ready SVG markup).

Kept as a string beside the code so the installed package needs no data files.
"""

from __future__ import annotations

REPORT_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wishflow report: {{ who }}</title>
<style>{{ css }}</style></head><body>
<h1>Wishflow operations report: {{ who }}</h1>
<p class="meta">Orders released since {{ since }} UTC; generated {{ generated }} UTC from the warehouse.
Weeks are ISO 8601 weeks (Monday to Sunday, "YYYY-Www").</p>
<div class="cards">
{%- for label, value in cards %}
<div class="card"><div class="v">{{ value }}</div><div class="k">{{ label }}</div></div>
{%- endfor %}
</div>
{%- macro table(t) -%}
{%- if t.rows -%}
<table id="{{ t.id }}"><thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{%- for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor -%}
</tbody></table>
{%- else -%}
<p class="meta" id="{{ t.id }}">{{ t.empty or "No rows." }}</p>
{%- endif -%}
{%- endmacro %}
{% for section in sections %}
<h2 id="{{ section.id }}">{{ section.heading }}</h2>
{%- if section.intro %}
<p>{{ section.intro }}</p>
{%- endif %}
{%- for figure in section.figures %}
<figure>{{ figure.svg | safe }}<figcaption>{{ figure.caption }}</figcaption></figure>
{%- endfor %}
{%- for t in section.tables %}
{{ table(t) }}
{%- endfor %}
{% endfor %}
<p class="meta">Definitions: see docs/warehouse.md (data dictionary) and docs/analysts.md.</p>
</body></html>
"""
