"""Build-time only, named by setup.cfg's `cmdclass`; the package never imports it.

setuptools' editable wheel (`pip install -e`, PEP 660) asks the distribution
`has_data()` before running `install_data`, but distributions answer
`has_data_files()`, so an editable install drops every data file, the man pages
included. This runs `install_data` where setuptools skipped it; a setuptools that
asks the right question runs it itself, and then this does nothing more.
"""
from setuptools.command.editable_wheel import editable_wheel as _editable_wheel


class editable_wheel(_editable_wheel):
    def _run_install(self, category: str) -> None:
        super()._run_install(category)
        dist = self.distribution
        if category == "data" and not hasattr(dist, "has_data") and dist.has_data_files():
            self.run_command("install_data")
