#!/usr/bin/env bash
# Build the Linux installers: dist/kianax_<version>_<arch>.deb and
# dist/kianax-<version>-linux-<arch>.tar.gz (the one-folder app).
# Needs: pip install -e ".[package]"; Debian's dpkg-dev (dpkg-deb).
# SKIP_PYINSTALLER=1 reuses an existing dist/kianax.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=$(python -c "import app; print(app.__version__)")
ARCH=$(dpkg --print-architecture)
if [ "${SKIP_PYINSTALLER:-0}" != 1 ] || [ ! -x dist/kianax/kianax ]; then
  pyinstaller --noconfirm --log-level WARN kianax.spec
fi

STAGE="build/deb/kianax_${VERSION}_${ARCH}"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" \
  "$STAGE/usr/share/applications" "$STAGE/usr/share/icons/hicolor/scalable/apps" \
  "$STAGE/usr/share/metainfo"
cp -a dist/kianax "$STAGE/opt/kianax"
ln -s /opt/kianax/kianax "$STAGE/usr/bin/kianax"
install -m 644 resources/kianax.desktop "$STAGE/usr/share/applications/kianax.desktop"
install -m 644 resources/icons/kianax.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/kianax.svg"
install -m 644 resources/io.kianax.Kianax.metainfo.xml "$STAGE/usr/share/metainfo/"

# The X11/xcb, EGL and font libraries Qt's platform plugins load at run time.
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: kianax
Version: ${VERSION}
Architecture: ${ARCH}
Maintainer: The Kianax developers <dev@kianax.io>
Installed-Size: $(du -sk "$STAGE" | cut -f1)
Depends: libc6, libegl1, libgl1, libfontconfig1, libfreetype6, libdbus-1-3, libxkbcommon0, libxkbcommon-x11-0, libx11-xcb1, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xfixes0, libxcb-xkb1
Recommends: gnome-keyring | kwalletmanager
Section: utils
Priority: optional
Homepage: https://github.com/kianax/kianax
Description: Desktop control panel for durable automations
 Draw routines in a node-graph editor and run them on an embedded
 Temporal engine; credentials stay in the OS keyring.
CONTROL

dpkg-deb --build --root-owner-group -Zgzip "$STAGE" "dist/kianax_${VERSION}_${ARCH}.deb"
tar -C dist -czf "dist/kianax-${VERSION}-linux-${ARCH}.tar.gz" kianax
ls -l "dist/kianax_${VERSION}_${ARCH}.deb" "dist/kianax-${VERSION}-linux-${ARCH}.tar.gz"
