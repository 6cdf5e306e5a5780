"""A useful starting style catalogue. ``TOK`` in a prompt is replaced by the avatar's trigger phrase.

Seeded only into an EMPTY catalogue: an adopted legacy database's own styles stay the whole catalogue (the
operator curated them), and nothing is mixed into a catalogue that already exists.
"""

from django.db import migrations

CATALOGUE = [
    ("business", "Бизнес", "💼", "Деловые портреты", [
        ("office", "Офис", [
            ("office_ceo", "Портрет руководителя",
             "professional corporate headshot of TOK in a modern glass office, confident look, soft window light, "
             "85mm lens, shallow depth of field, photorealistic"),
            ("office_meeting", "На переговорах",
             "photo of TOK leading a meeting in a bright conference room, natural gestures, documentary style, "
             "35mm lens, realistic skin texture"),
        ]),
        ("dresscode", "Дресс-код", [
            ("dresscode_suit", "Классический костюм",
             "studio portrait of TOK wearing a tailored dark suit, neutral grey backdrop, rim light, "
             "editorial fashion photography, sharp focus"),
            ("dresscode_smart", "Smart casual",
             "photo of TOK in smart casual outfit, blazer over a knit sweater, urban cafe background, "
             "golden hour light, magazine quality"),
        ]),
    ]),
    ("celebration", "Праздники", "🎉", "Праздничные образы", [
        ("new_year", "Новый год", [
            ("new_year_tree", "У ёлки",
             "cozy photo of TOK next to a decorated christmas tree, warm fairy lights bokeh, knitted sweater, "
             "festive atmosphere, photorealistic"),
            ("new_year_snow", "Зимняя сказка",
             "photo of TOK outdoors in gently falling snow at night, city lights bokeh, warm winter coat, "
             "cinematic color grading"),
        ]),
        ("birthday", "День рождения", [
            ("birthday_cake", "С тортом",
             "joyful photo of TOK holding a birthday cake with lit candles, confetti, balloons, "
             "warm indoor light, candid smile"),
            ("birthday_party", "Вечеринка",
             "photo of TOK at a stylish birthday party, string lights, glitter, evening outfit, "
             "vibrant colors, 50mm lens"),
        ]),
    ]),
    ("urban", "Город", "🏙", "Городские сцены", [
        ("street", "Улица", [
            ("street_style", "Стритстайл",
             "street style photo of TOK walking on a busy city street, trendy outfit, motion in background, "
             "overcast soft light, fashion blog aesthetic"),
            ("street_night", "Ночной город",
             "portrait of TOK in a neon-lit street at night, reflections on wet asphalt, "
             "cinematic teal and orange, 35mm film look"),
        ]),
        ("cafe", "Кафе", [
            ("cafe_morning", "Утренний кофе",
             "photo of TOK sitting in a cozy cafe by the window with a cup of coffee, morning sunlight, "
             "relaxed mood, shallow depth of field"),
            ("cafe_terrace", "Терраса",
             "photo of TOK on a european cafe terrace, summer afternoon, linen clothes, "
             "warm natural light, lifestyle photography"),
        ]),
    ]),
    ("creative", "Творчество", "🎨", "Творческие образы", [
        ("art", "Искусство", [
            ("art_oil", "Масляная живопись",
             "oil painting portrait of TOK, classical renaissance style, rich textures, dramatic chiaroscuro "
             "lighting, museum quality"),
            ("art_studio", "В мастерской",
             "photo of TOK as a painter in an art studio, paint-stained apron, canvases around, "
             "skylight illumination, documentary style"),
        ]),
        ("music", "Музыка", [
            ("music_stage", "На сцене",
             "photo of TOK performing on a concert stage with a microphone, spotlights, crowd silhouettes, "
             "energetic atmosphere, concert photography"),
            ("music_guitar", "С гитарой",
             "moody portrait of TOK playing an acoustic guitar in a dim room, warm lamp light, "
             "film grain, intimate atmosphere"),
        ]),
    ]),
]


def seed(apps, schema_editor):
    Category = apps.get_model("generations", "StyleCategory")
    Subcategory = apps.get_model("generations", "StyleSubcategory")
    Template = apps.get_model("generations", "StyleTemplate")
    if Category.objects.exists() or Subcategory.objects.exists() or Template.objects.exists():
        return
    for c_order, (c_id, c_name, icon, description, subcategories) in enumerate(CATALOGUE, start=1):
        category, _ = Category.objects.get_or_create(
            id=c_id, defaults={"name": c_name, "icon": icon, "description": description, "sort_order": c_order}
        )
        for s_order, (s_id, s_name, templates) in enumerate(subcategories, start=1):
            Subcategory.objects.get_or_create(
                id=s_id, defaults={"category": category, "name": s_name, "sort_order": s_order}
            )
            for t_order, (t_id, t_name, prompt) in enumerate(templates, start=1):
                Template.objects.get_or_create(
                    id=t_id,
                    defaults={"subcategory_id": s_id, "name": t_name, "prompt": prompt, "sort_order": t_order,
                              "tags": [c_id, s_id]},
                )


class Migration(migrations.Migration):
    dependencies = [("generations", "0003_provider_jobs_and_files")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
