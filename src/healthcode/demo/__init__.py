"""The demo city: a seeded, reproducible town of residents, venues, movements and an outbreak
(`city`), written through the real services into a database (`seed`).

Everything here is invented: names, ID numbers (valid by GB 11643, but made up), phone numbers,
venues and who met whom. It exists so that the platform can be explored with realistic data.
"""
