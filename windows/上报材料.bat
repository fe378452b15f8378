@echo off
chcp 65001 >nul
rem 生成向上级报送的材料（活动总结草稿、本县汇总的附件1）：双击运行。首次运行时自动建立运行环境（.venv）。
setlocal
cd /d "%~dp0.."
echo 生成向上级报送的材料（活动总结草稿、本县汇总的附件1）……
if not exist ".venv\.installed" (
    echo 首次运行：正在建立运行环境，需要联网，约需几分钟……
    where py >nul 2>nul || goto :nopy
    if not exist ".venv\Scripts\python.exe" py -3 -m venv .venv || goto :failed
    ".venv\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check -e . || goto :failed
    echo ok> ".venv\.installed"
)
".venv\Scripts\aqscy.exe" report %*
if errorlevel 1 (
    echo.
    echo 运行中发现问题，请阅读上面的提示。
) else (
    echo.
    echo 上报材料已保存在 outbox\上报 文件夹；活动总结是草稿，请核对并补写后再上报。
)
pause
exit /b

:nopy
echo 找不到 Python。请从 https://www.python.org 下载安装 Python 3.11 或更高版本（安装时勾选“py launcher”），然后再双击本文件。
pause
exit /b 1

:failed
echo 运行环境建立失败，请检查网络后再双击本文件重试；如仍失败，请把本窗口的内容截图发给技术人员。
if exist ".venv\.installed" del ".venv\.installed"
pause
exit /b 1
