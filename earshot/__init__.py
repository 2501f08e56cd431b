"""earshot: listen to the market, test hypotheses against a baseline, hand validated angles to sales."""

__version__ = "0.1.0"
