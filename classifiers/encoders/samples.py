"""Parallel sample sentences in every language variety the encoder serves, for its tests and benchmarks.

Three short synthetic sentences per variety, in the style of research summaries, the same three meanings in each
(an accusation in an online magazine, republished videos, a flood closing a road): the n-th sentence of every
variety says the same thing, so cross-lingual similarity can be checked against the other topics.
"""

from __future__ import annotations

#: Language variety (ISO 639-1, with the script where a language has two) → its three sentences.
SAMPLE_SENTENCES: dict[str, list[str]] = {
    "en": [
        "The group's online magazine accuses the Taliban of abandoning jihad for foreign recognition.",
        "Analysts say the channel republished old videos with new captions.",
        "Flooding closed the main road to the provincial capital on Monday.",
    ],
    "tg": [
        "Маҷаллаи онлайни гурӯҳ Толибонро ба даст кашидан аз ҷиҳод барои эътирофи хориҷӣ айбдор мекунад.",
        "Таҳлилгарон мегӯянд, ки канал видеоҳои кӯҳнаро бо матни нав дубора нашр кард.",
        "Селоб рӯзи душанбе роҳи асосии маркази вилоятро баст.",
    ],
    "uz-Latn": [
        "Guruhning onlayn jurnali Tolibonni xorijiy tan olinish uchun jihoddan voz kechganlikda ayblaydi.",
        "Tahlilchilarning aytishicha, kanal eski videolarni yangi izohlar bilan qayta eʼlon qilgan.",
        "Dushanba kuni suv toshqini viloyat markaziga olib boruvchi asosiy yoʻlni yopib qoʻydi.",
    ],
    "uz-Cyrl": [
        "Гуруҳнинг онлайн журнали Толибонни хорижий тан олиниш учун жиҳоддан воз кечганликда айблайди.",
        "Таҳлилчиларнинг айтишича, канал эски видеоларни янги изоҳлар билан қайта эълон қилган.",
        "Душанба куни сув тошқини вилоят марказига олиб борувчи асосий йўлни ёпиб қўйди.",
    ],
    "fa": [
        "مجله آنلاین این گروه طالبان را متهم می‌کند که جهاد را برای به رسمیت شناخته شدن کنار گذاشته‌اند.",
        "تحلیلگران می‌گویند این کانال ویدیوهای قدیمی را با زیرنویس‌های جدید دوباره منتشر کرده است.",
        "سیلاب روز دوشنبه جاده اصلی مرکز ولایت را بست.",
    ],
    "ps": [
        "د ډلې آنلاین مجله طالبان تورنوي چې د بهرني رسمیت پېژندنې لپاره یې جهاد پرېښی دی.",
        "شنونکي وايي چې چینل زاړه ویډیوګانې له نویو لیکنو سره بیا خپرې کړې.",
        "سیلاب د دوشنبې په ورځ د ولایت مرکز ته اصلي سړک وتاړه.",
    ],
    "ug-Arab": [
        "گۇرۇھنىڭ تور ژۇرنىلى تالىبانلارنى چەت ئەلنىڭ ئېتىراپ قىلىشى ئۈچۈن جىھادتىن ۋاز كەچتى دەپ ئەيىبلەيدۇ.",
        "ئانالىزچىلارنىڭ دېيىشىچە، قانال كونا سىنلارنى يېڭى ئىزاھلار بىلەن قايتا ئېلان قىلغان.",
        "دۈشەنبە كۈنى كەلكۈن ئۆلكە مەركىزىگە بارىدىغان ئاساسلىق يولنى توسۇۋالدى.",
    ],
    "ug-Latn": [
        "Guruhning tor zhurnili Talibanlarni chet elning étirap qilishi üchün jihadtin waz kechti dep eyibleydu.",
        "Analizchilarning déyishiche, qanal kona sinlarni yéngi izahlar bilen qayta élan qilghan.",
        "Düshenbe küni kelkün ölke merkizige baridighan asasliq yolni tosuwaldi.",
    ],
}
