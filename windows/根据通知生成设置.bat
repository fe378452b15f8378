@echo off
chcp 65001 >nul
rem 根据上级通知生成活动设置（campaign.toml 和 forms 文件夹）：把通知文件拖到本文件的图标上。
setlocal
if "%~1"=="" (
    echo 请把上级通知文件（.docx、.doc、.wps、.pdf 或 .txt）用鼠标拖到本文件的图标上松开。
    pause
    exit /b 2
)
set "NOTICE=%~f1"
cd /d "%~dp0.."
echo 根据通知“%~nx1”生成活动设置……
if not exist ".venv\.installed" (
    echo 首次运行：正在建立运行环境，需要联网，约需几分钟……
    where py >nul 2>nul || goto :nopy
    if not exist ".venv\Scripts\python.exe" py -3 -m venv .venv || goto :failed
    ".venv\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check -e . || goto :failed
    echo ok> ".venv\.installed"
)
".venv\Scripts\aqscy.exe" init "%NOTICE%" %2 %3 %4
if errorlevel 1 (
    echo.
    echo 运行中发现问题，请阅读上面的提示。
) else (
    echo.
    echo 请逐条核对 campaign-review.txt 中列出的事项，然后双击“生成模板.bat”查看各表。
)
pause
exit /b

:nopy
echo 找不到 Python。请从 https://www.python.org 下载安装 Python 3.11 或更高版本（安装时勾选“py launcher”），然后再双击本文件。
pause
exit /b 1

:failed
echo 运行环境建立失败，请检查网络后再试；如仍失败，请把本窗口的内容截图发给技术人员。
if exist ".venv\.installed" del ".venv\.installed"
pause
exit /b 1
