"""Text about news, stdlib only: dates, datelines, names and regions."""
