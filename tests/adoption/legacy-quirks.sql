-- More rows with the Alembic-era quirks, loaded after ../shared/legacy/sample-data.sql: NULL flags, both enum
-- spellings, floats that are not whole cents, a zero balance, and a table nobody knows about.

INSERT INTO users (id, telegram_id, first_name, last_name, username, language_code, timezone, is_premium, is_bot, is_blocked, created_at, updated_at) VALUES
 ('44444444-4444-4444-4444-444444444444', '777', 'Zero', NULL, 'zero_user', 'ru', NULL, false, false, false, '2025-05-23 08:00:00+00', '2025-05-23 08:00:00+00');

INSERT INTO user_balances (id, user_id, coins, created_at, updated_at) VALUES
 ('a1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 2.675, '2025-05-22 08:00:00+00', '2025-05-22 08:00:00+00'),
 ('a1111111-0000-0000-0000-000000000004', '44444444-4444-4444-4444-444444444444', 0, '2025-05-23 08:00:00+00', '2025-05-23 08:00:00+00');

INSERT INTO promokodes (id, code, type, balance_amount, bonus_amount, discount_percent, max_uses, current_uses, max_uses_per_user, valid_from, valid_until, description, is_active, created_by, created_at, updated_at) VALUES
 ('c1111111-0000-0000-0000-000000000003', 'BONUS10', 'BONUS', NULL, 10.005, NULL, NULL, 0, 1, NULL, NULL, NULL, true, 'admin', '2025-05-02 00:00:00+00', '2025-05-02 00:00:00+00');

INSERT INTO avatars (id, user_id, name, gender, avatar_type, training_type, status, fal_priority, finetune_type, multiresolution_training, subject_crop, create_masks, captioning, is_main, fal_response_data, created_at, updated_at) VALUES
 ('e1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 'Old', 'FEMALE', 'CUSTOM', NULL, 'error', 'high_res_only', NULL, NULL, NULL, NULL, NULL, false, NULL, '2025-05-22 09:00:00+00', '2025-05-22 09:00:00+00');

INSERT INTO avatar_photos (id, avatar_id, user_id, minio_key, file_hash, upload_order, validation_status, photo_metadata, created_at) VALUES
 ('f1111111-0000-0000-0000-000000000002', 'e1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 'avatars/e113/1.png', 'aaaa', 1, 'PENDING', NULL, NULL);

INSERT INTO style_categories (id, name, icon, description, sort_order, is_active, created_at) VALUES
 ('legacy_fun', 'Веселье', '🎉', '', NULL, NULL, NULL);
INSERT INTO style_subcategories (id, category_id, name, sort_order, is_active, created_at) VALUES
 ('legacy_party', 'legacy_fun', 'Вечеринка', NULL, NULL, '2025-05-30 23:30:00');
INSERT INTO style_templates (id, subcategory_id, name, prompt, preview_url, tags, popularity, sort_order, is_active, created_at) VALUES
 ('legacy_disco', 'legacy_party', 'Диско', 'TOK at a disco party', NULL, NULL, NULL, NULL, NULL, '2025-05-30 23:30:00');

INSERT INTO image_generations (id, user_id, avatar_id, template_id, generation_type, source_model, original_prompt, final_prompt, num_images, status, result_urls, created_at, completed_at, is_favorite, is_saved) VALUES
 ('99999999-0000-0000-0000-000000000003', '22222222-2222-2222-2222-222222222222', NULL, 'legacy_disco', 'template', NULL, 'диско', 'TOK at a disco party', 1, 'cancelled', NULL, '2025-06-03 00:15:00', NULL, NULL, NULL),
 ('99999999-0000-0000-0000-000000000004', '22222222-2222-2222-2222-222222222222', NULL, NULL, 'imagen4', NULL, 'море', 'the sea', 1, 'PROCESSING', '[]', '2025-06-03 00:16:00', NULL, NULL, false);

INSERT INTO user_transcript_cache (user_id, path, created_at) VALUES
 ('11111111-1111-1111-1111-111111111111', 'cache/111.json', '2025-06-05 10:00:00+00');

-- A table this project has never heard of: adoption must leave it alone.
CREATE TABLE operator_notes (id SERIAL PRIMARY KEY, note TEXT NOT NULL, written_at TIMESTAMP WITHOUT TIME ZONE);
INSERT INTO operator_notes (note, written_at) VALUES ('migrated from the old VPS', '2025-06-06 10:00:00');
