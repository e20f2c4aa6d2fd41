"""What the Streamlit pages show, computed without Streamlit: links, captions, scores, metadata, paging.

Each module is one concept; nothing here imports Streamlit, so all of it is tested directly."""
