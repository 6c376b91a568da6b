#!/usr/bin/env bash
# Put unet-gis into the desktop's application menu for the current user (no root):
# the .desktop launcher, the icon in every size, and the AppStream metainfo, under
# ${XDG_DATA_HOME:-~/.local/share}.
#
#   packaging/linux/install.sh                  # launcher runs `unet-gis` found on PATH
#                                               # (pipx install puts it in ~/.local/bin)
#   packaging/linux/install.sh --exec /opt/unet-gis/unet-gis   # a bundle's executable
#   packaging/linux/install.sh --uninstall
#
# Works from a source checkout (icons in resources/icons) and from the standalone
# bundle, which carries this script in dist/unet-gis/linux/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APPS=$DATA/applications
ICONS=$DATA/icons/hicolor
METAINFO=$DATA/metainfo
NAME=unet-gis
SIZES=(16 32 48 64 128 256 512)

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

exe=""
uninstall=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --exec) exe=${2:?--exec needs a path}; shift 2 ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
done

refresh() {
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$APPS" || true
    command -v gtk-update-icon-cache >/dev/null \
        && gtk-update-icon-cache -q -t -f "$ICONS" 2>/dev/null || true
}

if (( uninstall )); then
    rm -f "$APPS/$NAME.desktop" "$METAINFO/io.github.unet_gis.metainfo.xml" \
          "$ICONS/scalable/apps/$NAME.svg"
    for size in "${SIZES[@]}"; do rm -f "$ICONS/${size}x${size}/apps/$NAME.png"; done
    refresh
    echo "removed the unet-gis launcher and icons from $DATA"
    exit 0
fi

# the icons: a checkout's resources/icons, or the bundle's copy
icons=""
for candidate in "$HERE/../../resources/icons" "$HERE/../_internal/unet_gis/resources/icons"; do
    if [[ -f "$candidate/$NAME.svg" ]]; then icons=$(cd "$candidate" && pwd); break; fi
done
[[ -n "$icons" ]] || { echo "cannot find the icons beside $HERE" >&2; exit 1; }

# the executable the launcher runs, as an absolute path: menus often lack ~/.local/bin
if [[ -z "$exe" ]]; then
    if [[ -x "$HERE/../unet-gis" && -d "$HERE/../_internal" ]]; then
        exe="$HERE/../unet-gis"                      # running from inside the bundle
    else
        exe=$(command -v "$NAME" || true)
    fi
fi
[[ -n "$exe" && -x "$exe" ]] || {
    echo "no unet-gis executable: install it (pipx install unet-gis) or pass --exec PATH" >&2
    exit 1; }
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
# Exec= quoting: reserved characters would need escaping; keep paths simple
case $exe in *[[:space:]\"\'\\\$\`]*)
    echo "the path $exe has spaces or quotes; move it or make a symlink" >&2; exit 1 ;;
esac

mkdir -p "$APPS" "$METAINFO" "$ICONS/scalable/apps"
sed -e "s|^Exec=unet-gis |Exec=$exe |" -e "s|^TryExec=unet-gis$|TryExec=$exe|" \
    "$HERE/$NAME.desktop" > "$APPS/$NAME.desktop.tmp"
mv "$APPS/$NAME.desktop.tmp" "$APPS/$NAME.desktop"
cp "$HERE/io.github.unet_gis.metainfo.xml" "$METAINFO/"
cp "$icons/$NAME.svg" "$ICONS/scalable/apps/$NAME.svg"
for size in "${SIZES[@]}"; do
    mkdir -p "$ICONS/${size}x${size}/apps"
    cp "$icons/$NAME-$size.png" "$ICONS/${size}x${size}/apps/$NAME.png"
done
refresh
echo "installed the unet-gis launcher ($exe) and icons into $DATA"
