# Build the Windows installer: dist\Kianax-<version>-setup.exe. Runs on Windows only.
# Needs Python 3.11+, `pip install -e ".[package]"`, and NSIS 3 (makensis on PATH).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$version = python -c "import app; print(app.__version__)"
pyinstaller --noconfirm kianax.spec
makensis /DVERSION=$version packaging\windows\kianax.nsi
