; Kianax Windows installer (NSIS 3). Build on Windows after `pyinstaller kianax.spec`:
;   makensis /DVERSION=0.1.0 packaging\windows\kianax.nsi   ->  dist\Kianax-0.1.0-setup.exe
; SOURCE (default ..\..\dist\kianax) is the one-folder app to install.
Unicode true
!include "MUI2.nsh"

!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef SOURCE
  !define SOURCE "..\..\dist\kianax"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\..\dist\Kianax-${VERSION}-setup.exe"
!endif
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Kianax"

Name "Kianax ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Kianax"
InstallDirRegKey HKCU "Software\Kianax" "InstallDir"
RequestExecutionLevel user
SetCompressor /SOLID lzma

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\kianax.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Kianax (required)" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${SOURCE}\*.*"
  WriteRegStr HKCU "Software\Kianax" "InstallDir" "$INSTDIR"
  ; kianax-cli.exe is the console twin for `kianax-cli run ...` in a terminal.
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateDirectory "$SMPROGRAMS\Kianax"
  CreateShortcut "$SMPROGRAMS\Kianax\Kianax.lnk" "$INSTDIR\kianax.exe"
  CreateShortcut "$SMPROGRAMS\Kianax\Uninstall Kianax.lnk" "$INSTDIR\Uninstall.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "Kianax"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "The Kianax developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\kianax.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section /o "Start Kianax when I sign in" SecLogin
  WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Kianax" '"$INSTDIR\kianax.exe"'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecMain} "The Kianax app and its embedded Temporal engine."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecLogin} "Open Kianax at sign-in so schedules keep firing from the tray."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Section "Uninstall"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Kianax"
  Delete "$SMPROGRAMS\Kianax\Kianax.lnk"
  Delete "$SMPROGRAMS\Kianax\Uninstall Kianax.lnk"
  RMDir "$SMPROGRAMS\Kianax"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\Kianax"
SectionEnd
