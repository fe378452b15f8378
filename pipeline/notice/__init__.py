"""Notice → spec: read the campaign notice the county receives and write its campaign folder.

``read`` turns the file into paragraphs and tables, ``annexes`` splits off the 附件, ``facts`` finds the
campaign's year, dates, deadlines and contact, ``blanks`` and ``sentences`` turn a sentence-with-blanks
table into sections and fields, ``columns`` turns a column table into fields, ``build`` puts it together
and ``write`` writes the folder atomically. Every uncertain choice becomes a line of the review list.
"""
