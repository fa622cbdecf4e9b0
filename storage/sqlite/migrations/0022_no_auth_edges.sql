-- Auth edges (event_edges kind 1) are no longer written: nothing read
-- them. Prev edges (kind 0) stay; they answer "which events reference X".
DELETE FROM event_edges WHERE kind = 1;
