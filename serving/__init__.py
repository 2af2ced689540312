"""How the app is served, not what it serves: the bounded HTTP server and its drain
(``http``), one serving process (``process``), forked workers (``workers``) and the choice
between the three ways to listen (``start``). Imports handlers and sns; neither imports it."""
