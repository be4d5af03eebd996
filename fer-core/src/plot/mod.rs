//! Plotly figures and image grids, each displayable in an evcxr notebook.
