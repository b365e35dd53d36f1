"""What the customers of Hearth & Harvest write: the text of the demo samples.

Written for this project (no third-party text). One entry per storyline of the shop
(scripts/build_samples.py decides who writes when, in which channel and language). Each
storyline has texts in English, German, Spanish, French and Portuguese; ``{product}`` is
the product's name. The English texts use the words the taxonomy's rules know, so the
offline classifier files them; the others go to review unless a model reads them.
"""

from __future__ import annotations

LANGUAGES = ("en", "de", "es", "fr", "pt")

# storyline -> language -> texts. "after" variants are what customers write once a fix
# has shipped (see build_samples.STORYLINES).
TEXTS: dict[str, dict[str, list[str]]] = {
    "kit_warm": {
        "en": [
            "The {product} delivery arrived warm and the ice packs had melted into the veg.",
            "Courier left the box on the doorstep in the sun, by the time I found the "
            "delivery the chicken was warm.",
            "Second week in a row the parcel turned up soggy and warm, I threw the meat away.",
            "Delivery came six hours late and the cool liner was soaked through, fish was warm.",
            "Why does the courier take the whole day? The {product} was warm again on delivery.",
        ],
        "de": [
            "Die Lieferung kam wieder warm an, die Kühlakkus waren geschmolzen und das "
            "Hähnchen lauwarm.",
            "Der Karton stand stundenlang in der Sonne, Fleisch und Fisch waren warm.",
        ],
        "es": [
            "La caja llegó caliente y las bolsas de hielo estaban derretidas, tiré la carne.",
            "El repartidor dejó la caja al sol y el pescado llegó templado otra vez.",
        ],
        "fr": [
            "Le colis est arrivé tiède, les pains de glace avaient fondu et le poulet aussi.",
            "Le livreur a laissé la boîte au soleil, la viande était chaude à l'arrivée.",
        ],
        "pt": [
            "A caixa chegou quente e os sacos de gelo derretidos, deitei a carne fora.",
            "O estafeta deixou a caixa ao sol e o peixe chegou morno outra vez.",
        ],
    },
    "kit_cold": {
        "en": [
            "Delivery came in the new insulated box and everything was still cold, great job.",
            "The courier was on time and the {product} arrived cold and fresh, much better now.",
            "New delivery slots work well, parcel arrived early and the ice packs were frozen.",
            "The delivery arrived a bit late today and the box was only just cool.",
        ],
        "de": ["Die neue Isolierbox ist super, alles kam kalt und frisch an."],
        "es": ["La nueva caja térmica funciona, todo llegó frío y fresco."],
        "fr": ["La nouvelle boîte isotherme marche bien, tout est arrivé bien froid."],
        "pt": ["A nova caixa térmica funciona, chegou tudo frio e fresco."],
    },
    "knife_handle": {
        "en": [
            "The handle of the {product} cracked after two weeks, really poor quality.",
            "Blade came loose from the handle, the {product} is broken already.",
            "Handle split along the rivet after a few uses, looks cheaply made.",
            "Lovely sharp blade but the handle broke after one week of normal use.",
            "Still the same cracked handle on the replacement knife, poor quality again.",
        ],
        "de": ["Der Griff vom Messer ist nach zwei Wochen gerissen, schlechte Verarbeitung."],
        "es": ["El mango del cuchillo se agrietó a las dos semanas, muy mala calidad."],
        "fr": ["Le manche du couteau s'est fendu au bout de deux semaines, qualité médiocre."],
        "pt": ["O cabo da faca rachou ao fim de duas semanas, má qualidade."],
    },
    "knife_ok": {
        "en": [
            "Very sharp and the handle of the {product} feels sturdy so far.",
            "Good quality knives, the handle is solid after a month of daily use.",
        ],
        "de": ["Sehr scharf, der Griff hält bis jetzt."],
        "es": ["Muy afilado y el mango aguanta bien por ahora."],
        "fr": ["Très tranchant, le manche tient bien pour l'instant."],
        "pt": ["Muito afiada e o cabo aguenta bem até agora."],
    },
    "app_checkout": {
        "en": [
            "Since the app update checkout fails at the payment step every time.",
            "Apple Pay declined in the app after updating, the card works everywhere else.",
            "Payment failed three times in the new app version, I could not place my order.",
            "The cart empties itself at checkout since yesterday's update.",
            "I was charged twice for one order after the payment error in the app.",
        ],
        "de": ["Seit dem App-Update bricht die Bezahlung jedes Mal ab, Bestellung unmöglich."],
        "es": ["Desde la actualización de la app el pago falla siempre al finalizar el pedido."],
        "fr": ["Depuis la mise à jour de l'appli, le paiement échoue à chaque commande."],
        "pt": ["Desde a atualização da app o pagamento falha sempre ao finalizar a encomenda."],
    },
    "coffee_pouch": {
        "en": [
            "The zip on the new espresso bean pouch won't reseal, so the beans go stale "
            "within days.",
            "The espresso pouch zip split open on day two and the beans taste stale now.",
            "Please bring back the tin, the espresso pouch zip doesn't close and the beans "
            "go stale.",
            "The zip tore off the espresso pouch the first time I opened it, beans went stale.",
        ],
        "de": ["Der Zipper am neuen Bohnenbeutel schließt nicht, die Bohnen werden schal."],
        "es": ["La cremallera de la bolsa de café no cierra y los granos se ponen rancios."],
        "fr": ["Le zip du sachet de café ne ferme plus, les grains s'éventent en deux jours."],
        "pt": ["O fecho do saco de café não fecha e os grãos ficam rançosos em dias."],
    },
    "price_rise": {
        "en": [
            "The subscription price went up again this month, not worth the money any more.",
            "Third price rise this year on my plan, thinking of cancelling the subscription.",
            "The {product} is getting too expensive for a family of four.",
        ],
        "de": ["Der Preis vom Abo ist schon wieder gestiegen, das lohnt sich nicht mehr."],
        "es": ["Otra subida de precio en la suscripción, ya no compensa."],
        "fr": ["Encore une hausse de prix de l'abonnement, ça ne vaut plus le coup."],
        "pt": ["Mais um aumento de preço na assinatura, já não compensa."],
    },
    "praise": {
        "en": [
            "Love it! The {product} recipes are easy and the portions are generous.",
            "Excellent {product}, highly recommend it to anyone who cooks on weeknights.",
            "Amazing value, the {product} is perfect for our family dinners.",
            "Fantastic fresh ingredients, the kids love this one.",
        ],
        "de": ["Tolle Rezepte, frische Zutaten, wir bestellen jede Woche wieder."],
        "es": ["Recetas fáciles y productos frescos, estamos encantados."],
        "fr": ["Recettes délicieuses et produits frais, toute la famille adore."],
        "pt": ["Receitas fáceis e ingredientes frescos, adoramos."],
    },
    "skillet_rust": {
        "en": [
            "The {product} arrived scratched and started rusting after a few days, poor quality.",
            "Seasoning flaked off and the {product} is rusty after two washes, defective.",
        ],
        "de": ["Die Pfanne kam zerkratzt an und rostet schon nach ein paar Tagen."],
        "es": ["La sartén llegó rayada y se oxidó a los pocos días."],
        "fr": ["La poêle est arrivée rayée et rouille déjà après quelques jours."],
        "pt": ["A frigideira chegou riscada e ganhou ferrugem em poucos dias."],
    },
    "oil_refund": {
        "en": [
            "The olive oil bottle arrived smashed, I want a refund please.",
            "Still no refund for the smashed {product} bottle after ten days.",
            "Asked for my money back for the smashed oil bottle, nobody answered.",
        ],
        "de": ["Die Ölflasche kam zerbrochen an, ich möchte mein Geld zurück."],
        "es": ["La botella de aceite llegó rota, quiero el reembolso."],
        "fr": ["La bouteille d'huile est arrivée cassée, je veux être remboursé."],
        "pt": ["A garrafa de azeite chegou partida, quero o reembolso."],
    },
    "app_login": {
        "en": [
            "I can't log in to the app after the password reset, the reset link has expired.",
            "The verification code never arrives so I am locked out of my account.",
        ],
        "de": ["Ich komme nach dem Zurücksetzen des Passworts nicht mehr in die App."],
        "es": ["No puedo entrar en la app después de cambiar la contraseña."],
        "fr": ["Impossible de me connecter à l'appli après avoir changé le mot de passe."],
        "pt": ["Não consigo entrar na app depois de mudar a palavra-passe."],
    },
    "support_slow": {
        "en": [
            "Customer service took five days to answer a simple question about my box.",
            "Support team never replied to my e-mail about the missing recipe cards.",
        ],
        "de": ["Der Kundendienst hat nach einer Woche immer noch nicht geantwortet."],
        "es": ["Atención al cliente tardó una semana en contestar."],
        "fr": ["Le service client a mis une semaine à répondre."],
        "pt": ["O apoio ao cliente demorou uma semana a responder."],
    },
    "veggie_request": {
        "en": [
            "Please add a gluten-free option to the {product}, would be nice for my daughter.",
            "Would be nice to choose smaller portions, please add an option for one person.",
        ],
        "de": ["Bitte eine glutenfreie Variante anbieten, das wäre toll."],
        "es": ["Por favor, añadid una opción sin gluten."],
        "fr": ["Ce serait bien d'avoir une option sans gluten."],
        "pt": ["Seria ótimo ter uma opção sem glúten."],
    },
    "office_invoice": {
        "en": [
            "Our office invoice shows the old plan price for the {product} again.",
            "The monthly invoice for our team lunches charges VAT twice, please fix the billing.",
        ],
        "de": ["Auf unserer Firmenrechnung steht wieder der alte Preis."],
        "es": ["La factura de la oficina vuelve a mostrar el precio antiguo."],
        "fr": ["La facture de notre bureau affiche encore l'ancien tarif."],
        "pt": ["A fatura do escritório continua com o preço antigo."],
    },
}

# One sentence carrying personal data, per language; the masking stage must catch it.
PII_SENTENCES: dict[str, list[str]] = {
    "en": [
        "My name is {name}, call me on {phone} or email {email}.",
        "Please send the replacement to {address}.",
        "Refund it to my IBAN {iban}, thanks.",
    ],
    "de": [
        "Ich bin {name}, erreichbar unter {phone} oder {email}.",
        "Bitte an {address} liefern.",
        "Bitte auf meine IBAN {iban} erstatten.",
    ],
    "es": [
        "Soy {name}, mi teléfono es {phone} y mi correo {email}.",
        "Enviad el pedido a {address}.",
        "Devolución a mi IBAN {iban}, por favor.",
    ],
    "fr": [
        "Je suis {name}, joignable au {phone} ou par mail {email}.",
        "Merci de livrer au {address}.",
        "Remboursement sur mon IBAN {iban} svp.",
    ],
    "pt": [
        "Sou {name}, o meu telefone é {phone} e o email {email}.",
        "Enviem para a {address}.",
        "Reembolso para o IBAN {iban}, obrigado.",
    ],
}

# language -> (country, customers' names, addresses, phone format)
PEOPLE: dict[str, tuple[str, list[str], list[str], str]] = {
    "en": (
        "GB",
        ["Olivia Bennett", "James Whitaker", "Sophie Clarke", "Harry Doyle", "Amelia Hughes"],
        ["14 Baker Street, London NW1 6XE", "3 Queen's Road, Bristol BS8 1QU"],
        "07700 900{n:03d}",
    ),
    "de": (
        "DE",
        ["Lukas Schneider", "Anna Weber", "Jonas Fischer", "Lea Becker"],
        ["Hauptstraße 5, 10115 Berlin", "Schillerstraße 12, 80336 München"],
        "+49 30 901820{n:02d}",
    ),
    "es": (
        "ES",
        ["Lucía García", "Javier Moreno", "Carmen Ruiz", "Pablo Navarro"],
        ["Calle Mayor 12, 28013 Madrid", "Carrer de Balmes 45, 08007 Barcelona"],
        "+34 612 345 {n:03d}",
    ),
    "fr": (
        "FR",
        ["Camille Dubois", "Julien Moreau", "Chloé Laurent", "Hugo Lefèvre"],
        ["12 rue de la Paix, 75002 Paris", "8 place Bellecour, 69002 Lyon"],
        "+33 6 12 34 56 {n:02d}",
    ),
    "pt": (
        "PT",
        ["João Silva", "Beatriz Costa", "Tiago Santos", "Inês Ferreira"],
        ["Rua Augusta 100, 1100-053 Lisboa", "Avenida dos Aliados 20, 4000-065 Porto"],
        "+351 912 345 {n:03d}",
    ),
}

# Review titles by sentiment, per language.
TITLES: dict[str, dict[str, list[str]]] = {
    "negative": {
        "en": ["Disappointed", "Not again", "Needs fixing"],
        "de": ["Enttäuscht"],
        "es": ["Decepcionado"],
        "fr": ["Déçu"],
        "pt": ["Desiludido"],
    },
    "positive": {
        "en": ["Great", "Love it", "Spot on"],
        "de": ["Super"],
        "es": ["Genial"],
        "fr": ["Parfait"],
        "pt": ["Ótimo"],
    },
    "mixed": {
        "en": ["OK"],
        "de": ["Geht so"],
        "es": ["Regular"],
        "fr": ["Moyen"],
        "pt": ["Razoável"],
    },
}

# Around the core sentence: how people start and end, by sentiment and language. With
# the details below they make every text its own (exports with many identical texts
# fail the quality gate's duplicate check, as they should).
OPENERS: dict[str, dict[str, list[str]]] = {
    "negative": {
        "en": [
            "",
            "Not happy.",
            "Really disappointed.",
            "Sorry but this is not ok.",
            "Long time customer here.",
            "Hi team,",
            "Ugh.",
            "Honestly?",
        ],
        "de": ["", "Hallo,", "Leider", "Sehr ärgerlich:"],
        "es": ["", "Hola,", "Muy decepcionado.", "Otra vez:"],
        "fr": ["", "Bonjour,", "Très déçu.", "Encore une fois :"],
        "pt": ["", "Olá,", "Muito desiludido.", "Outra vez:"],
    },
    "positive": {
        "en": ["", "Just a quick note.", "Hi!", "Have to say it:", "Five weeks in and"],
        "de": ["", "Hallo,", "Kurzes Feedback:"],
        "es": ["", "Hola,", "Solo quería decir:"],
        "fr": ["", "Bonjour,", "Petit retour :"],
        "pt": ["", "Olá,", "Só para dizer:"],
    },
}
CLOSERS: dict[str, dict[str, list[str]]] = {
    "negative": {
        "en": [
            "",
            "Please sort it out.",
            "Not what I pay for.",
            "Thinking of cancelling.",
            "Third time this month.",
            "Can someone call me back?",
            "Very frustrating.",
            "This needs fixing.",
            "Expected better from you.",
        ],
        "de": [
            "",
            "Bitte kümmern Sie sich darum.",
            "Das dritte Mal diesen Monat.",
            "So nicht.",
            "Ich überlege zu kündigen.",
        ],
        "es": [
            "",
            "Por favor, solucionadlo.",
            "Es la tercera vez este mes.",
            "Así no.",
            "Estoy pensando en cancelar.",
        ],
        "fr": [
            "",
            "Merci de régler ça.",
            "Troisième fois ce mois-ci.",
            "Pas acceptable.",
            "Je pense résilier.",
        ],
        "pt": [
            "",
            "Por favor resolvam.",
            "Terceira vez este mês.",
            "Assim não dá.",
            "Estou a pensar cancelar.",
        ],
    },
    "positive": {
        "en": [
            "",
            "Thanks!",
            "Keep it up.",
            "Will order again.",
            "Cheers.",
            "Telling my friends.",
            "Well done team.",
        ],
        "de": ["", "Danke!", "Weiter so.", "Gerne wieder."],
        "es": ["", "¡Gracias!", "Seguid así.", "Repetiremos."],
        "fr": ["", "Merci !", "Continuez comme ça.", "On recommande."],
        "pt": ["", "Obrigado!", "Continuem assim.", "Vamos repetir."],
    },
}
# A detail that varies by customer: when, how often, who is cooking ({n}: a small number).
DETAILS: dict[str, list[str]] = {
    "en": [
        "Ordered on {day}.",
        "Box number {n} for us.",
        "We are a family of {n}.",
        "Been a customer for {n} months.",
        "Happened on {day} evening.",
        "My partner noticed it first.",
        "",
        "",
        "Week {n} of the plan.",
    ],
    "de": ["Bestellt am {day_de}.", "Wir sind {n} Personen.", "", "Seit {n} Monaten Kunde."],
    "es": ["Pedido del {day_es}.", "Somos {n} en casa.", "", "Cliente desde hace {n} meses."],
    "fr": ["Commande du {day_fr}.", "Nous sommes {n} à la maison.", "", "Client depuis {n} mois."],
    "pt": ["Encomenda de {day_pt}.", "Somos {n} em casa.", "", "Cliente há {n} meses."],
}
WEEKDAYS = {
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "day_de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "day_es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
    "day_fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "day_pt": ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"],
}
