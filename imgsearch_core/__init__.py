"""imgsearch core: every piece of search logic, importable and testable without Streamlit."""
