-- A ticket command's writes travel as one statement of data-modifying `WITH` parts, the
-- version-guarded update of the ticket among them. `cgs_expect_row(false)` fails that
-- statement, and so every part of it, when the guarded update wrote no row (another change
-- won the race); the app answers the error code `CG409` as a conflict.
CREATE FUNCTION cgs_expect_row(written BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
  IF NOT written THEN
    RAISE EXCEPTION 'the guarded row was not written: it changed meanwhile' USING ERRCODE = 'CG409';
  END IF;
  RETURN TRUE;
END
$$;
