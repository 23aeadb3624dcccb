"""Test tooling, kept out of the library's floors: the Voilà + Chromium driver that the browser tests
and the app-load benchmark share (:mod:`toolkit.testing.browser`). Nothing in the library imports it."""
