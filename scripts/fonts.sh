#!/usr/bin/env bash
# Refreshes the fonts the invoice and credit-note PDFs embed (common/shop/fonts/*.ttf), from
# Debian's fonts-noto-core and npm's @expo-google-fonts/noto-emoji (Google's monochrome
# Noto Emoji). The fonts are committed, so a build never needs this; run it (`make fonts`)
# only to move to newer upstream fonts or to change which characters are kept.
#
# Every font is cut down with fontTools' subsetter, because each is linked into every Lambda
# that renders PDFs and the zips must stay under 10 MiB: TrueType hinting and glyph names go
# (a PDF viewer rasterises from the outlines, and krilla writes its own ToUnicode map), the
# Latin face keeps only the Latin, Greek and Cyrillic blocks, punctuation and currency signs
# (with ₹), and Noto Emoji is rescaled to 512 units per em, ample at invoice sizes. Every
# shaping table (GSUB, GPOS, GDEF) stays, so conjuncts, vowel signs and Arabic joining work.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/common/shop/fonts"
NOTO=/usr/share/fonts/truetype/noto
EMOJI_PACKAGE=@expo-google-fonts/noto-emoji@0.4.7
# fontTools stamps "modified" with this instead of now: the same sources give the same bytes.
export SOURCE_DATE_EPOCH=1608940800

need=()
[ -f "$NOTO/NotoSansDevanagari-Regular.ttf" ] || need+=(fonts-noto-core)
/usr/bin/python3 -c 'import fontTools.subset' 2>/dev/null || need+=(python3-fonttools)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
  else
    echo "needs Debian's ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
command -v npm >/dev/null || { echo "needs npm for $EMOJI_PACKAGE" >&2; exit 1; }

mkdir -p "$OUT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

keep="--layout-features=* --no-hinting --no-glyph-names --name-IDs=* --name-languages=*"
keep="$keep --notdef-outline --recommended-glyphs --drop-tables+=DSIG"
subset() { # source, output, unicodes
  # shellcheck disable=SC2086 # $keep is a list of options
  /usr/bin/python3 -m fontTools.subset "$1" --unicodes="$3" $keep --output-file="$OUT/$2" 2>/dev/null
}

latin="U+0000-036F,U+0370-03FF,U+0400-04FF,U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2100-214F"
latin="$latin,U+2190-21FF,U+2212,U+25CC,U+FB00-FB06,U+FEFF,U+FFFD"
# Bold only for Latin: the other scripts' bold faces would push admin-ship's zip past 10 MB
# (pdf/text.rs draws their bold text in the regular face).
for w in Regular Bold; do
  subset "$NOTO/NotoSans-$w.ttf" "NotoSans-$w.ttf" "$latin"
done
for s in Devanagari Bengali Gurmukhi Gujarati Oriya Tamil Telugu Kannada Malayalam OlChiki MeeteiMayek; do
  subset "$NOTO/NotoSans$s-Regular.ttf" "NotoSans$s-Regular.ttf" '*'
done
subset "$NOTO/NotoNaskhArabic-Regular.ttf" "NotoNaskhArabic-Regular.ttf" '*'

(cd "$work" && npm pack --silent "$EMOJI_PACKAGE" >/dev/null && tar xzf ./*.tgz)
subset "$work/package/400Regular/NotoEmoji_400Regular.ttf" NotoEmoji-Regular.ttf '*'
/usr/bin/python3 - "$OUT/NotoEmoji-Regular.ttf" <<'EOF'
import sys
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
font = TTFont(sys.argv[1])
for table in ("vhea", "vmtx", "STAT"):  # vertical metrics and axis names: horizontal text only
    if table in font:
        del font[table]
scale_upem(font, 512)
font.save(sys.argv[1])
EOF

# One licence for all: every font here is Noto, under the OFL 1.1 with no Reserved Font Name.
{
  echo "Noto Sans, Noto Sans <script>, Noto Naskh Arabic:"
  echo "Copyright 2010, 2012-2020 Google Inc.; 2015-2020 Google LLC."
  echo "Noto Emoji: Copyright 2013 Google LLC."
  echo
  tail -n +3 "$work/package/LICENSE_FONT"
} >"$OUT/LICENSE-Noto.txt"
ls -l "$OUT"/*.ttf
du -cb "$OUT"/*.ttf | tail -1
