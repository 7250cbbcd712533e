"""The Parquet archive of expired raw check results: one file per UTC day, local or on S3.

``target`` says where the archive lives, ``parquet`` writes a day, ``query`` reads rows back,
``cli`` is the ``statpulse archive`` sub-command.
"""
