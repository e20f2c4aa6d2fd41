"""The filter language: parse (the written forms), clauses (what one clause means, FilterError) and where
(combining filters, building one from the page's widgets)."""
