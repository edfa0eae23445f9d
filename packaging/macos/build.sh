#!/usr/bin/env bash
# Build dist/Kianax-<version>.dmg with a signed, notarized Kianax.app. Runs on macOS only.
# Needs: pip install -e ".[package]"; Xcode command line tools.
# Signing and notarization run when these are set (otherwise the .app is unsigned):
#   KIANAX_SIGN_IDENTITY  "Developer ID Application: Your Name (TEAMID)"
#   KIANAX_NOTARY_PROFILE a profile stored with `xcrun notarytool store-credentials`
set -euo pipefail
if [ "$(uname -s)" != "Darwin" ]; then
  echo "packaging/macos/build.sh runs on macOS only (it needs hdiutil, codesign, notarytool)." >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
VERSION=$(python -c "import app; print(app.__version__)")
export KIANAX_VERSION="$VERSION"

pyinstaller --noconfirm kianax.spec
APP="dist/Kianax.app"
DMG="dist/Kianax-${VERSION}.dmg"

if [ -n "${KIANAX_SIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp \
    --sign "$KIANAX_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

rm -f "$DMG"
hdiutil create -volname "Kianax" -srcfolder "$APP" -ov -format UDZO "$DMG"

if [ -n "${KIANAX_SIGN_IDENTITY:-}" ]; then
  codesign --force --sign "$KIANAX_SIGN_IDENTITY" --timestamp "$DMG"
fi
if [ -n "${KIANAX_NOTARY_PROFILE:-}" ]; then
  xcrun notarytool submit "$DMG" --keychain-profile "$KIANAX_NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
ls -l "$DMG"
