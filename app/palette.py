"""The colours of the pages derived from the deployer's primary colour, readable in both themes (WCAG 2.2 §1.4.3)."""

from __future__ import annotations

from functools import lru_cache

# The pages' own surfaces (static/style.css), which the derived colours must stay readable on.
LIGHT_SURFACES = ("#ffffff", "#eef1f6")
DARK_SURFACES = ("#171e2a", "#0e131b")
BLACK, WHITE = "#000000", "#ffffff"
TEXT_CONTRAST = 4.5  # WCAG 2.2 §1.4.3, normal text


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def luminance(color: str) -> float:
    """WCAG 2.2 relative luminance of a #rrggbb colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(color)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.2 contrast ratio: (L1 + 0.05) / (L2 + 0.05), lighter over darker."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(color: str, other: str, share: float) -> str:
    """`share` of `other` blended into `color`, in sRGB."""
    blended = (round(x + (y - x) * share) for x, y in zip(_rgb(color), _rgb(other), strict=True))
    return "#" + "".join(f"{value:02x}" for value in blended)


def readable(color: str, backgrounds: tuple[str, ...], toward: str) -> str:
    """The colour, moved toward black or white just far enough to read as text on every background."""
    for step in range(21):
        candidate = mix(color, toward, step / 20)
        if all(contrast(candidate, background) >= TEXT_CONTRAST for background in backgrounds):
            return candidate
    return toward


# The default accent of static/style.css (light theme), for mail when no brand colour is set.
DEFAULT_LIGHT = {"--accent": "#2450c4", "--accent-fg": WHITE, "--link": "#1f48b3"}


@lru_cache(maxsize=8)
def themes(primary: str) -> tuple[dict[str, str], dict[str, str]]:
    """The light and dark themes' custom properties for a brand colour."""
    primary = primary.lower()
    # Black or white text on the brand's buttons, whichever contrasts more: at least 4.58:1 for any colour.
    on_primary = WHITE if contrast(primary, WHITE) >= contrast(primary, BLACK) else BLACK
    hover = mix(primary, BLACK if on_primary == WHITE else WHITE, 0.15)  # away from the text: more contrast
    pair = []
    for surfaces, toward in ((LIGHT_SURFACES, BLACK), (DARK_SURFACES, WHITE)):
        soft = mix(primary, surfaces[0], 0.85)
        link = readable(primary, (*surfaces, soft), toward)
        pair.append({"--accent": primary, "--accent-hover": hover, "--accent-fg": on_primary,
                       "--accent-soft": soft, "--link": link, "--focus": link})
    return pair[0], pair[1]


@lru_cache(maxsize=8)
def stylesheet(primary: str) -> str:
    """CSS custom properties that replace the default accent of static/style.css with the brand's colour."""
    light, dark = themes(primary)
    return (
        f"/* Generated from OSTIARY_BRAND_PRIMARY_COLOR={primary.lower()}. */\n"
        f":root {{\n{_properties(light, '  ')}}}\n"
        f"@media (prefers-color-scheme: dark) {{\n  :root {{\n{_properties(dark, '    ')}  }}\n}}\n"
    )


def mail_colors(primary: str | None) -> dict[str, str]:
    """Button, button text and link colours for a message's HTML part (mail has no dark theme to rely on)."""
    light = themes(primary)[0] if primary else DEFAULT_LIGHT
    return {"accent": light["--accent"], "accent_fg": light["--accent-fg"], "link": light["--link"]}


def _properties(values: dict[str, str], indent: str) -> str:
    return "".join(f"{indent}{name}: {value};\n" for name, value in values.items())
