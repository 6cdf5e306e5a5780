-- The rows of ../shared/legacy/sample-data.sql and legacy-quirks.sql (same ids, same meaning), stored the way the
-- earlier service's NEWEST models store them in the schema they create (../shared/legacy/schema-createall.sql):
-- avatar and generation enums as upper-case member NAMES in VARCHAR columns, promo code types lower case, money as
-- floats, user_settings and style timestamps naive (UTC). Every NOT NULL column of that schema holds a value (so
-- no NULL flags here, unlike the Alembic-era rows). Plus a user_groups row, a table this project does not own.
-- Load after schema-createall.sql, which empties search_path for its session.
SET search_path TO public;

INSERT INTO users (id, telegram_id, first_name, last_name, username, language_code, timezone, is_premium, is_bot, is_blocked, created_at, updated_at) VALUES
 ('11111111-1111-1111-1111-111111111111', '42705442', 'Сергей', NULL, 'serg', 'ru', 'UTC+5', false, false, false, '2025-05-20 10:00:00+05', '2025-06-01 12:00:00+05'),
 ('22222222-2222-2222-2222-222222222222', '100200300', 'Anna', 'K', NULL, 'en', NULL, true, false, false, '2025-05-21 09:30:00+00', '2025-05-21 09:30:00+00'),
 ('33333333-3333-3333-3333-333333333333', '5000000001', 'Blocked', NULL, 'spam', 'ru', 'UTC+5', false, false, true, '2025-05-22 08:00:00+00', '2025-05-22 08:00:00+00'),
 ('44444444-4444-4444-4444-444444444444', '777', 'Zero', NULL, 'zero_user', 'ru', NULL, false, false, false, '2025-05-23 08:00:00+00', '2025-05-23 08:00:00+00');

INSERT INTO user_balances (id, user_id, coins, created_at, updated_at) VALUES
 ('a1111111-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 150.0, '2025-05-20 10:00:00+05', '2025-06-01 12:00:00+05'),
 ('a1111111-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', 0.30000000000000004, '2025-05-21 09:30:00+00', '2025-05-21 09:30:00+00'),
 ('a1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 2.675, '2025-05-22 08:00:00+00', '2025-05-22 08:00:00+00'),
 ('a1111111-0000-0000-0000-000000000004', '44444444-4444-4444-4444-444444444444', 0, '2025-05-23 08:00:00+00', '2025-05-23 08:00:00+00');

INSERT INTO promokodes (id, code, type, balance_amount, bonus_amount, discount_percent, max_uses, current_uses, max_uses_per_user, valid_from, valid_until, description, is_active, created_by, created_at, updated_at) VALUES
 ('c1111111-0000-0000-0000-000000000001', 'WELCOME50', 'balance', 50, NULL, NULL, 100, 1, 1, NULL, '2026-12-31 23:59:59+00', 'Приветственный бонус', true, 'admin', '2025-05-01 00:00:00+00', '2025-05-25 10:05:00+05'),
 ('c1111111-0000-0000-0000-000000000002', 'SALE20', 'discount', NULL, NULL, 20, NULL, 0, NULL, '2025-06-01 00:00:00+00', '2025-06-30 00:00:00+00', NULL, false, NULL, '2025-05-01 00:00:00+00', '2025-05-01 00:00:00+00'),
 ('c1111111-0000-0000-0000-000000000003', 'BONUS10', 'bonus', NULL, 10.005, NULL, NULL, 0, 1, NULL, NULL, NULL, true, 'admin', '2025-05-02 00:00:00+00', '2025-05-02 00:00:00+00');

INSERT INTO promokode_usages (id, promokode_id, user_id, amount_added, bonus_added, package_used, used_at) VALUES
 ('d1111111-0000-0000-0000-000000000001', 'c1111111-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 50, NULL, NULL, '2025-05-25 10:05:00+05');

INSERT INTO avatars (id, user_id, name, gender, avatar_type, training_type, status, finetune_id, fal_request_id, training_progress, fal_mode, fal_iterations, fal_priority, trigger_word, lora_rank, finetune_type, trigger_phrase, steps, multiresolution_training, subject_crop, create_masks, captioning, diffusers_lora_file_url, avatar_data, training_config, fal_response_data, photos_count, generations_count, is_main, created_at, updated_at) VALUES
 ('e1111111-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'Я в горах', 'MALE', 'CHARACTER', 'PORTRAIT', 'COMPLETED', 'ft-abc', 'req-123', 100, 'character', 500, 'QUALITY', 'TOK', 32, 'LORA', 'TOK', 1000, true, true, false, true, 'https://files.example/lora.safetensors', '{}', '{"steps": 1000}', '{"status": "COMPLETED"}', 12, 1, true, '2025-05-23 10:00:00+05', '2025-05-23 11:00:00+05'),
 ('e1111111-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', 'Draft', 'FEMALE', 'STYLE', 'STYLE', 'PHOTOS_UPLOADING', NULL, NULL, 0, 'style', 500, 'SPEED', 'TOK', 32, 'FULL', NULL, NULL, true, true, false, true, NULL, '{}', '{}', '{}', 1, 0, false, '2025-05-24 10:00:00+00', '2025-05-24 10:00:00+00'),
 ('e1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 'Old', 'FEMALE', 'CUSTOM', 'PORTRAIT', 'ERROR', NULL, NULL, 0, 'character', 500, 'HIGH_RES_ONLY', 'TOK', 32, 'LORA', NULL, NULL, true, true, false, true, NULL, '{}', '{}', '{}', 1, 0, false, '2025-05-22 09:00:00+00', '2025-05-22 09:00:00+00');

INSERT INTO avatar_photos (id, avatar_id, user_id, minio_key, file_hash, upload_order, validation_status, file_size, width, height, format, has_face, photo_metadata, created_at) VALUES
 ('f1111111-0000-0000-0000-000000000001', 'e1111111-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', 'avatars/e111/1.jpg', 'd41d8cd98f00b204e9800998ecf8427e', 1, 'VALID', 204800, 1024, 1024, 'jpg', true, '{}', '2025-05-24 10:01:00+00'),
 ('f1111111-0000-0000-0000-000000000002', 'e1111111-0000-0000-0000-000000000003', '33333333-3333-3333-3333-333333333333', 'avatars/e113/1.png', 'aaaa', 1, 'PENDING', 51200, NULL, NULL, 'png', NULL, '{}', '2025-05-22 09:01:00+00');

INSERT INTO style_categories (id, name, icon, description, sort_order, is_active, created_at) VALUES
 ('business', 'Бизнес', '💼', 'Деловые портреты', 1, true, '2025-05-29 00:00:00'),
 ('legacy_fun', 'Веселье', '🎉', '', 0, true, '2025-05-30 23:30:00');
INSERT INTO style_subcategories (id, category_id, name, sort_order, is_active, created_at) VALUES
 ('office', 'business', 'Офис', 1, true, '2025-05-29 00:00:00'),
 ('legacy_party', 'legacy_fun', 'Вечеринка', 0, true, '2025-05-30 23:30:00');
INSERT INTO style_templates (id, subcategory_id, name, prompt, preview_url, tags, popularity, sort_order, is_active, created_at) VALUES
 ('ceo_portrait', 'office', 'Портрет CEO', 'professional portrait of TOK in a modern office', NULL, '["business", "portrait"]', 7, 1, true, '2025-05-29 00:00:00'),
 ('legacy_disco', 'legacy_party', 'Диско', 'TOK at a disco party', NULL, '[]', 0, 0, true, '2025-05-30 23:30:00');

INSERT INTO image_generations (id, user_id, avatar_id, template_id, generation_type, source_model, original_prompt, final_prompt, quality_preset, aspect_ratio, num_images, status, result_urls, generation_time, error_message, prompt_metadata, created_at, completed_at, is_favorite, is_saved) VALUES
 ('99999999-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'e1111111-0000-0000-0000-000000000001', 'ceo_portrait', 'avatar', 'fal-ai/flux-lora', 'portrait in office', 'professional portrait of TOK in a modern office, 85mm', 'balanced', '3:4', 2, 'COMPLETED', '["https://files.example/1.jpg", "https://files.example/2.jpg"]', 14.2, NULL, '{}', '2025-06-01 12:00:00', '2025-06-01 12:00:14', true, true),
 ('99999999-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', NULL, NULL, 'imagen4', 'fal-ai/imagen4/preview', 'кот в космосе', 'a cat in space', 'balanced', '1:1', 1, 'FAILED', 'null', NULL, 'timeout', NULL, '2025-06-02 12:00:00', NULL, false, true),
 ('99999999-0000-0000-0000-000000000003', '22222222-2222-2222-2222-222222222222', NULL, 'legacy_disco', 'template', NULL, 'диско', 'TOK at a disco party', 'balanced', '1:1', 1, 'CANCELLED', 'null', NULL, NULL, NULL, '2025-06-03 00:15:00', NULL, false, true),
 ('99999999-0000-0000-0000-000000000004', '22222222-2222-2222-2222-222222222222', NULL, NULL, 'imagen4', NULL, 'море', 'the sea', 'balanced', '1:1', 1, 'PROCESSING', '[]', NULL, NULL, NULL, '2025-06-03 00:16:00', NULL, false, false);

INSERT INTO user_favorite_templates (id, user_id, template_id, created_at) VALUES
 ('88888888-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'ceo_portrait', '2025-06-01 12:00:00');

INSERT INTO user_states (id, user_id, state_data, created_at, updated_at) VALUES
 ('77777777-0000-0000-0000-000000000001', '22222222-2222-2222-2222-222222222222', '{"state": "AvatarCreate:photos", "data": {"avatar_id": "e1111111-0000-0000-0000-000000000002"}}', '2025-05-24 10:00:00+00', '2025-05-24 10:01:00+00');

INSERT INTO user_settings (id, user_id, default_aspect_ratio, quick_generation_mode, auto_enhance_prompts, language_preference, show_technical_details, created_at, updated_at) VALUES
 ('66666666-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '3:4', false, true, 'ru', false, '2025-06-01 10:00:00', '2025-06-01 10:30:00');

INSERT INTO user_transcripts (id, user_id, audio_key, transcript_key, transcript_metadata, created_at, updated_at) VALUES
 ('55555555-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'audio/1.mp3', 'transcripts/1.txt', '{"duration": 61}', '2025-06-05 10:00:00+00', '2025-06-05 10:00:00+00');
INSERT INTO user_transcript_cache (user_id, path, created_at) VALUES
 ('11111111-1111-1111-1111-111111111111', 'cache/111.json', '2025-06-05 10:00:00+00');

INSERT INTO user_groups (id, user_id, group_id, group_title, invite_link, created_via, is_forum_enabled, setup_completed, topics, created_at, updated_at, last_accessed_at) VALUES
 ('44444444-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', -1002000000001, 'Сергей: генерации', 'https://t.me/+abcdef', 'bot', true, true, '{"images": 3, "avatars": 5}', '2025-06-04 10:00:00+00', '2025-06-04 10:00:00+00', NULL);

-- A table this project has never heard of: adoption must leave it alone.
CREATE TABLE operator_notes (id SERIAL PRIMARY KEY, note TEXT NOT NULL, written_at TIMESTAMP WITHOUT TIME ZONE);
INSERT INTO operator_notes (note, written_at) VALUES ('migrated from the old VPS', '2025-06-06 10:00:00');
