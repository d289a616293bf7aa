"""The only code that speaks Toss: the client (and, separately, the offline sandbox)."""
